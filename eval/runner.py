"""`rag eval`: run a question set through the pipeline, write results as they come, then report.

out/results.jsonl   one line per question: id, the `rag ask --json` record, its metrics
out/summary.json    means, refusal rates, latency percentiles, the settings
out/report.md/html  tables, plots and every question with its answer and cited passages
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from eval.questions import Question, load_question_set
from eval.scoring import funnel_stage, score, summarise
from rag.errors import UserError
from rag.settings import Settings


@dataclass(frozen=True)
class EvalRun:
    """One configuration to evaluate: a name, the pipeline's `Settings`, and what to measure."""

    settings: Settings = Settings()
    name: str = "default"
    retrieval_only: bool = False
    decide: bool = True  # False: answer everything, keeping the signals (to fit the answerability decision)

    def with_toml(self, path: Path) -> "EvalRun":
        """This run with a TOML file's settings, named after the file (for --compare)."""
        settings, extra = self.settings.with_toml(path, extra=("retrieval_only", "decide"))
        wrong = [k for k, v in extra.items() if not isinstance(v, bool)]
        if wrong:
            raise UserError(f"{path}: {', '.join(wrong)} must be true or false")
        return replace(self, settings=settings, name=path.stem, **extra)

    def describe(self) -> dict:
        return {"name": self.name, **asdict(self.settings), "retrieval_only": self.retrieval_only,
                "decide": self.decide}


def read_done(results: Path) -> dict[str, dict]:
    """Rows already written (a resumed run skips them); a torn last line is dropped."""
    done = {}
    if results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                done[row["id"]] = row
            except (ValueError, KeyError):
                continue
    return done


def unmatched_sections(questions: list[Question], section_paths: set[str]) -> list[str]:
    from eval.judge import section_matches

    wanted = {g for q in questions for g in q.sections}
    return sorted(g for g in wanted if not any(section_matches(p, g) for p in section_paths))


def earlier_turns(assistant, questions: list) -> list:
    """The conversation before a follow-up: each earlier question with the short answer (or first
    sentence) the product gave it, as the chat passes them on."""
    from rag.assistant import Turn

    turns = []
    for text in questions:
        answer = assistant.answer(str(text), turns)
        said = "" if answer.refused else answer.short_answer or (answer.sentences[0].text if answer.sentences else "")
        turns.append(Turn(str(text), said))
    return turns


def answer_record(assistant, question: Question, settings: Settings) -> dict:
    if question.extra.get("retrieval_only"):
        started = time.perf_counter()
        passages = assistant.search(question.question, k=max(settings.k, 10), mode=settings.mode).retrieved
        return {"question": question.question, "answer": "", "refused": False, "citations": [], "sentences": [],
                "retrieved": [p.to_json() for p in passages], "model": "retrieval only",
                "timings": {"retrieve_s": time.perf_counter() - started}}
    turns = earlier_turns(assistant, question.extra["previous"]) if question.extra.get("previous") else []
    record = assistant.answer(question.question, turns).to_json()  # a follow-up is answered as in the chat
    if turns and record["question"] != question.question:
        record["question"], record["asked"] = question.question, record["question"]
    generated = record["raw"]
    if generated and record["timings"].get("decode_s"):  # tokens after the first / their time
        tokens = assistant.count_tokens(generated) or 0
        if tokens > 1:
            record["tokens_per_s"] = round((tokens - 1) / record["timings"]["decode_s"], 2)
    return record


def open_door(config: EvalRun, index_dir: Path | None, serve: str | None, retrieval_only: bool):
    """The assistant the questions go through: the Ray cluster's replicas at `serve`, or this
    process (with no model when only retrieval is measured)."""
    from rag import assemble

    settings, remote, replicas = config.settings, None, 0
    if serve is not None:
        from rag import serving

        remote, replicas = serving.replicas(serve, settings)
    elif retrieval_only:
        settings = assemble.without_model(settings)
    return assemble.open_assistant(settings, index_dir, decide=config.decide, remote=remote, replicas=replicas)


def run(questions_path: Path, out: Path, config: EvalRun, index_dir: Path | None, limit: int | None,
        fresh: bool, progress: bool = True, serve: str | None = None) -> dict:
    """`serve`: the address of a Ray cluster whose answering replicas take the questions, as many
    at once as there are replicas."""
    from tqdm import tqdm

    from rag.library import Library

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; name a folder for the results")
    settings = config.settings
    out.mkdir(parents=True, exist_ok=True)
    questions, docs = load_question_set(questions_path, out / "docs")
    if limit:
        questions = questions[:limit]
    if config.retrieval_only:
        questions = [replace(q, extra={**q.extra, "retrieval_only": True}) for q in questions]
    if docs is not None:
        index_dir = index_dir or out / "index"
        Library(settings, index_dir).index([docs], progress=progress)
    assistant = open_door(config, index_dir, serve, all(q.extra.get("retrieval_only") for q in questions))
    workers = assistant.status().replicas or 1  # as many questions at once as there are replicas
    missing = unmatched_sections(questions, assistant.sections())
    if missing:
        print(f"rag: warning: gold sections not found in the index: {'; '.join(missing)}", file=sys.stderr)

    results = out / "results.jsonl"
    if fresh and results.exists():
        results.unlink()
    done = read_done(results)
    if results.exists():  # drop a line torn by an interrupted run before appending after it
        staging = results.with_suffix(".jsonl.tmp")
        staging.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in done.values()),
                           encoding="utf-8")
        staging.replace(results)
    todo = [q for q in questions if q.id not in done]
    from concurrent.futures import ThreadPoolExecutor

    with open(results, "a", encoding="utf-8") as fh, ThreadPoolExecutor(max_workers=workers) as pool:
        records = pool.map(lambda q: answer_record(assistant, q, settings), todo)  # in order, `workers` at once
        for question, record in tqdm(zip(todo, records), total=len(todo), desc=config.name, unit="q",
                                     disable=not progress, file=sys.stderr):
            row = {"id": question.id, **record, "metrics": score(record, question, settings.k)}
            if not question.extra.get("retrieval_only"):
                row["funnel"] = funnel_stage(record, question)
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            done[question.id] = row
    rows = [done[q.id] for q in questions if q.id in done]
    summary = {"settings": config.describe(), "question_set": str(questions_path), **summarise(rows)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    from eval.report import write_report

    write_report(out, [(config.name, summary, rows)], questions)
    return summary


def compare(questions_path: Path, out: Path, configs: list[EvalRun], index_dir: Path | None,
            limit: int | None, fresh: bool) -> list[dict]:
    """Each configuration in its own folder, then one side-by-side report in `out`."""
    from eval.questions import load_question_set as load
    from eval.report import write_report

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; name a folder for the results")
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise UserError(f"configuration names must differ: {', '.join(names)}")
    if index_dir is None and (questions_path.is_dir() or questions_path.suffix.lower() == ".json"):
        index_dir = out / "index"  # one index of the dataset's documents for every configuration
    runs = []
    for config in configs:
        summary = run(questions_path, out / config.name, config, index_dir, limit, fresh)
        rows = list(read_done(out / config.name / "results.jsonl").values())
        runs.append((config.name, summary, rows))
    questions, _ = load(questions_path, out / "docs")
    write_report(out, runs, questions[:limit] if limit else questions)
    return [s for _, s, _ in runs]
