"""Answer-stage experiments on the calibration parts that did not ship, kept so their figures can be
remade (`eval/results/answers-crossdomain.md`, "Tried in session 7" and "Session 8"). Whatever chooses
runs on calibration parts only; `losses` only counts, on the part named.

    python -m eval.experiments.answer_experiments quotes OUT                  # quote scoring weights (no model)
    python -m eval.experiments.answer_experiments prompt OUT --variant phrase # another answer instruction (or worked examples)
    python -m eval.experiments.answer_experiments pick OUT                    # the model picks the quote
    python -m eval.experiments.answer_experiments hint OUT                    # copy from the quote, the draft as a hint
    python -m eval.experiments.answer_experiments losses OUT --part test --run default   # where the gold is lost
    python -m eval.experiments.answer_experiments reread OUT                  # copy the phrase out of the prompt's passages

OUT is the folder of `python -m eval.calibrate.crossdomain build`, with the calibration `collect` runs done.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from eval import EVAL_DIR
from rag.settings import Settings

RUN = "collect"
SETS = ("squad_cct", "xquad")
ALL_SETS = ("covidqa", "sample", "squad_cct", "xquad")
PROMPT_VARIANTS = {
    "own-words": "Answer the question using only the passages below, in one short sentence that uses the "
                 "passages' own words. If the passages do not contain the answer, reply exactly: {refusal}",
    "phrase": "Answer the question using only the passages below. Reply with the shortest phrase from the "
              "passages that answers it. If the passages do not contain the answer, reply exactly: {refusal}",
}
ANSWER_EXAMPLES = (  # invented, not from any evaluation set: (section, passage, question, reply)
    ("History", "The bridge, designed by Anna Berg, opened to traffic in 1931 after six years of work. It was "
     "widened in 1968.", "When did the bridge open?", "In 1931 [1]."),
    ("Finances", "Most of the harbour's revenue comes from container fees, which rose by 12 percent last year. "
     "Cruise ships bring in the rest.", "Where does most of the harbour's revenue come from?", "Container fees [1]."),
)
HINT_SYSTEM = ("Copy from the passage the shortest phrase that answers the question. A draft answer is given; "
               "it may be wrong. Reply with the phrase only.")
HINT_EXAMPLES = (  # invented, like short_answer.SPAN_EXAMPLES; the second draft is wrong on purpose
    ("The bridge, designed by Anna Berg, opened to traffic in 1931 after six years of work.",
     "When did the bridge open?", "The bridge opened in 1931.", "1931"),
    ("Most of the harbour's revenue comes from container fees, which rose by 12 percent last year.",
     "Where does most of the harbour's revenue come from?", "It comes from fees on ships.", "container fees"),
)
HINT_FLOORS = (-0.2, -0.3, -0.5, -1.0, None)  # mean token log-probability a copied phrase needs to be shown
REREAD_TURN = "Now copy from the passages the shortest phrase that answers the question. Reply with the phrase only."
DIRECT_SYSTEM = ("Copy from the passages below the shortest phrase that answers the question. "
                 "Reply with the phrase only.")
PICK_SYSTEM = ("You are given a question and numbered sentences from a document. Reply with the number of the "
               "sentence that answers the question. If none of them answers it, reply 0.")


def _rows(folder: Path, run: str = RUN) -> list[dict]:
    path = folder / run / "results.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _answerable(folder: Path) -> dict:
    from eval.questions import load_jsonl

    return {q.id: q for q in load_jsonl(folder / "questions.jsonl") if q.answerable}


def _embedder():
    from rag import assemble

    model = assemble.load_embedder("all-MiniLM-L6-v2")
    return lambda texts: model.embed_passages(texts) if texts else np.zeros((0, 384))


def _generator():
    """The default answering model, as shipped."""
    from rag import assemble

    return assemble.load_generator(Settings(), assemble.load_embedder(), log=lambda m: print(m, file=sys.stderr))


def _grounded_answer(row: dict, question: str, ranked, texts: list[str], embed) -> str:
    """The supported part of the stored draft, as the pipeline reads it."""
    from rag.answer import sentences as choose
    from rag.answer.grounding import ground_answer
    from rag.answer.refusal import model_refused
    from rag.index.lexical import terms
    from rag.ingest.paragraphs import split_sentences

    if model_refused(row["raw"]):
        return ""
    focused = choose.focus(ranked, texts, Settings.focus_sentences)
    grounded = ground_answer(row["raw"], question, [split_sentences(t) for t in focused], terms, embed)
    return " ".join(s.text for s in grounded if s.supported)


def quote_features(out: Path) -> list[tuple[str, list[tuple], bool]]:
    """Per answerable calibration question: each candidate sentence's cosine, coverage, IDF-weighted
    coverage, agreement with the draft, share of the draft's added terms, passage, holds-gold, and
    the product's extractive score (`sentences.best_sentences`)."""
    from eval.calibrate.parts import part_folders
    from eval.judge import is_correct
    from rag.answer import sentences as choose, short_answer
    from rag.answer.refusal import question_terms
    from rag.index import store
    from rag.index.lexical import terms
    from rag.ingest.paragraphs import split_sentences

    embed = _embedder()
    data = []
    for folder in part_folders(out, "calibration"):
        chunks = store.load(folder / "index").chunks
        df: dict[str, int] = {}
        for chunk in chunks:
            for t in terms(chunk.text):
                df[t] = df.get(t, 0) + 1
        idf = lambda t: math.log(1 + len(chunks) / (1 + df.get(t, 0)))  # noqa: E731
        questions = _answerable(folder)
        for row in _rows(folder):
            q = questions.get(row["id"])
            if q is None or not row["raw"]:
                continue
            texts = [p["text"] for p in row["retrieved"][:4]]
            candidates = [(j + 1, s) for j, t in enumerate(texts) for s in split_sentences(t)]
            cosine = embed([q.question] + [s for _, s in candidates])
            cosine = cosine[1:] @ cosine[0]
            ranked = choose.best_sentences(q.question, texts, embed, terms)
            extractive = {(c.passage, c.text): c.score for c in ranked}  # the product's own score
            answer = _grounded_answer(row, q.question, ranked, texts, embed)
            agreement = embed([answer] + [s for _, s in candidates]) if answer else None
            agreement = agreement[1:] @ agreement[0] if answer else np.zeros(len(candidates))
            asked = question_terms(terms(q.question))
            added = terms(short_answer.draft_sentence(row["raw"])) - terms(q.question) if answer else set()
            feats = []
            for (n, s), c, a in zip(candidates, cosine, agreement):
                st = terms(s)
                cov = len(asked & st) / len(asked) if asked else 0.0
                icov = sum(idf(t) for t in asked & st) / sum(idf(t) for t in asked) if asked else 0.0
                lex = len(added & st) / len(added) if added else 0.0
                feats.append((float(c), cov, icov, float(a), lex, n, is_correct(s, q.answers), extractive[(n, s)]))
            data.append((folder.name, feats, bool(answer)))
    return data


def quote_hits(data, score) -> dict[str, float]:
    """Per set: % of questions whose best-scored sentence holds the gold (ties: the earlier passage).

    >>> data = [("a", [(0.9, 0, 0, 0, 0, 1, False), (0.5, 0, 0, 0, 0, 2, True)], False),
    ...         ("a", [(0.2, 0, 0, 0, 0, 1, True), (0.2, 0, 0, 0, 0, 2, False)], False)]
    >>> quote_hits(data, lambda f, has: f[0])
    {'a': 50.0}
    """
    hits: dict[str, list[bool]] = {}
    for name, feats, has_answer in data:
        best = max(range(len(feats)), key=lambda i: (score(feats[i], has_answer), -feats[i][5]))
        hits.setdefault(name, []).append(feats[best][6])
    return {name: 100 * sum(h) / len(h) for name, h in sorted(hits.items())}


def cmd_quotes(out: Path) -> None:
    data = quote_features(out)
    from rag.answer.sentences import AGREEMENT

    shipped = quote_hits(data, lambda f, has: (1 - AGREEMENT) * f[7] + (AGREEMENT * f[3] if has else 0))
    print("| score | " + " | ".join(shipped) + " | mean |\n|---|" + "---|" * (len(shipped) + 1))
    print(f"| shipped (0.6 cosine + 0.4 coverage; draft {AGREEMENT}) | "
          + " | ".join(f"{v:.0f}" for v in shipped.values()) + f" | {np.mean(list(shipped.values())):.1f} |")
    grid = []
    for wc, idf, agree, lex in itertools.product((0.4, 0.5, 0.6, 0.7), (False, True), (0, 0.15, 0.25, 0.35),
                                                 (0, 0.1, 0.2, 0.3)):
        def score(f, has, wc=wc, idf=idf, agree=agree, lex=lex):
            return ((1 - agree - lex) * (wc * f[0] + (1 - wc) * (f[2] if idf else f[1]))
                    + (agree * f[3] + lex * f[4] if has else 0))
        hits = quote_hits(data, score)
        grid.append((np.mean(list(hits.values())), f"cosine {wc}, {'IDF ' if idf else ''}coverage, draft {agree}, "
                                                   f"draft terms {lex}", hits))
    for mean, label, hits in sorted(grid, key=lambda g: -g[0])[:5]:
        print(f"| {label} | " + " | ".join(f"{v:.0f}" for v in hits.values()) + f" | {mean:.1f} |")
    print(f"({len(grid)} weightings tried; the best five shown)")


def _score_runs(folder: Path, runs: dict[str, list[dict]]) -> None:
    from eval.judge import is_correct
    from eval.metrics import token_f1
    from rag.answer.refusal import model_refused

    questions = _answerable(folder)
    ids = set.intersection(*({r["id"] for r in rows} for rows in runs.values()))
    for name, rows in runs.items():
        rows = [r for r in rows if r["id"] in ids]
        gold = lambda r: questions[r["id"]].answers  # noqa: E731
        quote = lambda r: " ".join(s["text"] for s in r["sentences"])  # noqa: E731
        shown = lambda r: r["short_answer"] or quote(r)  # noqa: E731
        n = max(len(rows), 1)
        print(f"| {folder.name} | {name} | {len(rows)} | {sum(is_correct(r['raw'], gold(r)) for r in rows)} | "
              f"{sum(bool(r['short_answer']) for r in rows)} | {100 * sum(is_correct(shown(r), gold(r)) for r in rows) / n:.1f} | "
              f"{100 * sum(token_f1(shown(r), gold(r)) for r in rows) / n:.1f} | "
              f"{sum(model_refused(r['raw']) for r in rows)} | "
              f"{statistics.median(len(r['raw'].split()) for r in rows) if rows else 0} |")


def cmd_prompt(out: Path, variant: str, sets: list[str], limit: int) -> None:
    """The answerable calibration questions again with another answer instruction (decide = false)."""
    from eval.runner import EvalRun, run
    from rag.answer import prompting

    if variant == "examples":  # the shipped instruction, with two worked examples before the question
        from rag.answer import pipeline

        shipped = prompting.build_messages

        def with_examples(question, passages, texts):
            messages = shipped(question, passages, texts)
            shots = []
            for section, text, asked, reply in ANSWER_EXAMPLES:
                shots += [{"role": "user", "content": f"Passages:\n[1] ({section})\n{text}\n\nQuestion: {asked}"},
                          {"role": "assistant", "content": reply}]
            return messages[:1] + tuple(shots) + messages[1:]
        prompting.build_messages = pipeline.build_messages = with_examples
    else:
        prompting.SYSTEM = PROMPT_VARIANTS[variant].format(refusal=prompting.REFUSAL_TEXT)
    config = replace(EvalRun().with_toml(EVAL_DIR / "configs" / "collect.toml"), name=f"{RUN}-{variant}")
    print("| part | instruction | questions | draft holds gold | short shown | correct | F1 | model refused | "
          "draft words (median) |\n|---|---|---|---|---|---|---|---|---|")
    for name in sets:
        folder = out / f"{name}-calibration"
        ids = _answerable(folder)
        answerable = [line for line in (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines()
                      if line.strip() and json.loads(line)["id"] in ids][:limit]
        subset = folder / config.name / "questions.jsonl"
        subset.parent.mkdir(parents=True, exist_ok=True)
        subset.write_text("\n".join(answerable) + "\n", encoding="utf-8")
        run(subset, folder / config.name, config, folder / "index", None, False, progress=False)
        _score_runs(folder, {"shipped": _rows(folder), variant: _rows(folder, config.name)})


def cmd_pick(out: Path, sets: list[str], limit: int) -> None:
    """The model reads the top three quote candidates, numbered, and names the one that answers;
    compared with the shipped choice (the first of the three)."""
    import torch

    from eval.judge import is_correct
    from rag.answer import sentences as choose
    from rag.index.lexical import terms

    embed = _embedder()
    gen = _generator()
    digits = [gen.tokenizer(str(i), add_special_tokens=False)["input_ids"][0] for i in range(4)]
    print("| part | questions | shipped quote holds gold | model's pick holds gold |\n|---|---|---|---|")
    for name in sets:
        folder = out / f"{name}-calibration"
        questions = _answerable(folder)
        shipped = picked = n = 0
        for row in _rows(folder):
            q = questions.get(row["id"])
            if q is None or not row["raw"] or n >= limit:
                continue
            n += 1
            texts = [p["text"] for p in row["retrieved"][:4]]
            ranked = choose.best_sentences(q.question, texts, embed, terms)
            answer = _grounded_answer(row, q.question, ranked, texts, embed)
            scores = [c.score for c in ranked]
            if answer:
                agreement = embed([answer] + [c.text for c in ranked])
                scores = [(1 - choose.AGREEMENT) * s + choose.AGREEMENT * float(a)
                          for s, a in zip(scores, agreement[1:] @ agreement[0])]
            top = [c.text for _, c in sorted(zip(scores, ranked), key=lambda sc: -sc[0])[:3]]
            body = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(top))
            messages = [{"role": "system", "content": PICK_SYSTEM},
                        {"role": "user", "content": f"Question: {q.question}\n{body}"}]
            ids = gen.tokenizer(gen.render(messages), return_tensors="pt", add_special_tokens=False)["input_ids"]
            with torch.inference_mode():
                logits = gen.model(input_ids=ids, logits_to_keep=1).logits[0, -1]
            choice = max(range(len(top)), key=lambda i: float(logits[digits[i + 1]]))
            shipped += is_correct(top[0], q.answers)
            picked += is_correct(top[choice], q.answers)
        print(f"| {folder.name} | {n} | {shipped} | {picked} |")


def hint_messages(question: str, quote: str, draft: str) -> tuple[dict, ...]:
    """The copying chat with the draft shown as a hint; the source copied from is the quote."""
    messages = [{"role": "system", "content": HINT_SYSTEM}]
    for text, asked, hint, answer in HINT_EXAMPLES:
        messages += [{"role": "user", "content": f"Passage: {text}\nQuestion: {asked}\nDraft answer: {hint}"},
                     {"role": "assistant", "content": answer}]
    messages.append({"role": "user", "content": f"Passage: {quote}\nQuestion: {question}\nDraft answer: {draft}"})
    return tuple(messages)


def _shipped(row: dict, question: str, quote: str) -> str:
    """The shipped short answer of a stored `collect` row: that run predates the share rule
    (`short_answer.carries_draft`), which is applied here to a phrase copied out of the draft."""
    from rag.answer import short_answer
    from rag.index.lexical import terms

    if not row["short_answer"] or short_answer.accept(short_answer.candidate(row["raw"]), quote, question):
        return row["short_answer"]
    draft = short_answer.draft_sentence(row["raw"])
    return row["short_answer"] if short_answer.carries_draft(row["short_answer"], draft, question, terms) else ""


def cmd_hint(out: Path, sets: list[str]) -> None:
    """The short phrase copied from the quoted sentence, with the model's draft shown as a hint, alone
    and as a fallback when the shipped phrase (copied out of the draft) is not shown."""
    from eval.questions import load_jsonl
    from rag.answer import short_answer
    from rag.answer.refusal import model_refused

    gen = _generator()
    data = []
    for name in sets:
        folder = out / f"{name}-calibration"
        questions = {q.id: q for q in load_jsonl(folder / "questions.jsonl")}
        for row in _rows(folder):
            q, quote = questions[row["id"]], " ".join(s["text"] for s in row["sentences"])
            span, logprob = "", 0.0
            if row["raw"] and quote and not model_refused(row["raw"]):
                span, logprob = gen.copy_span(hint_messages(q.question, quote, short_answer.draft_sentence(row["raw"])),
                                              quote, fixed=1 + 2 * len(HINT_EXAMPLES))
            data.append({"set": name, "answerable": q.answerable, "answers": q.answers, "question": q.question,
                         "quote": quote, "shipped": _shipped(row, q.question, quote), "hint": (span, logprob)})

    def hinted(floor):
        def pick(d):
            span, logprob = d["hint"]
            return short_answer.accept(span, d["quote"], d["question"]) if floor is None or logprob >= floor else ""
        return pick
    variants = [("shipped (copied out of the draft)", lambda d: d["shipped"])]
    for floor in HINT_FLOORS:
        variants.append((f"from the quote, draft as hint, log-prob >= {floor}", hinted(floor)))
        variants.append(("shipped, else the above", lambda d, h=hinted(floor): d["shipped"] or h(d)))
    _phrase_table(data, sets, [(label, lambda d, pick=pick: (pick(d), d["quote"])) for label, pick in variants])


def _phrase_table(data: list[dict], sets: list[str], variants, evidence_column: bool = False) -> None:
    """Per variant and set, on answerable questions: correct / F1 / % with a phrase shown [/ % whose
    evidence holds the gold], the objective (per-set mean of (correct + F1) / 2), and the share of
    unanswerable questions shown a phrase. A variant maps a question to (phrase, evidence shown)."""
    from eval.judge import is_correct
    from eval.metrics import token_f1

    print("| variant | " + " | ".join(f"{n} c / F1 / shown" + (" / quote" if evidence_column else "") for n in sets)
          + " | objective | shown on unanswerable |\n|---|" + "---|" * (len(sets) + 2))
    for label, pick in variants:
        cells, objective, shown_unanswerable = [], [], []
        for name in sets:
            rows = [d for d in data if d["set"] == name and d["answerable"]]
            picked = [pick(d) for d in rows]
            shown = [p or e for p, e in picked]
            n = max(len(rows), 1)
            correct = 100 * sum(is_correct(t, d["answers"]) for t, d in zip(shown, rows)) / n
            f1 = 100 * sum(token_f1(t, d["answers"]) for t, d in zip(shown, rows)) / n
            cell = f"{correct:.0f} / {f1:.0f} / {100 * sum(bool(p) for p, _ in picked) / n:.0f}"
            if evidence_column:
                cell += f" / {100 * sum(is_correct(e, d['answers']) for (_, e), d in zip(picked, rows)) / n:.0f}"
            cells.append(cell)
            objective.append((correct + f1) / 2)
            shown_unanswerable += [bool(pick(d)[0]) for d in data if d["set"] == name and not d["answerable"]]
        print(f"| {label} | " + " | ".join(cells) + f" | {np.mean(objective):.1f} | "
              f"{100 * np.mean(shown_unanswerable) if shown_unanswerable else 0:.0f}% |")


def cmd_losses(out: Path, part: str, run_name: str) -> None:
    """Where the gold answer is lost, answerable questions: in the top four passages retrieved, in the
    prompt (each passage cut to its best `Settings.focus_sentences` sentences, as the pipeline does), in
    the model's draft, in the quote shown."""
    from eval.calibrate.parts import part_folders
    from eval.judge import is_correct
    from rag.errors import UserError

    folders = part_folders(out, part)
    missing = [str(f / run_name / "results.jsonl") for f in folders if not (f / run_name / "results.jsonl").exists()]
    if missing:
        raise UserError(f"no run {run_name!r} in {len(missing)} {part} part(s), e.g. {missing[0]}")
    embed = _embedder()
    print("| part | run | answerable | in top 4 | in the prompt | in the draft | in the quote shown |\n"
          "|---|---|---|---|---|---|---|")
    for folder in folders:
        questions = _answerable(folder)
        counts = np.zeros(4)
        rows = [r for r in _rows(folder, run_name) if r["id"] in questions]
        for row in rows:
            q = questions[row["id"]]
            texts = [p["text"] for p in row["retrieved"][:4]]
            _, focused, _ = _prompt_passages(row, q.question, embed)
            counts += [is_correct(" ".join(texts), q.answers), is_correct(" ".join(focused), q.answers),
                       is_correct(row["raw"], q.answers),
                       is_correct(" ".join(s["text"] for s in row["sentences"]), q.answers)]
        print(f"| {folder.name} | {run_name} | {len(rows)} | "
              + " | ".join(f"{100 * c / max(len(rows), 1):.0f}%" for c in counts) + " |")


def _prompt_passages(row: dict, question: str, embed):
    """The passages as the pipeline showed them (each cut to its best sentences) and their ranked sentences."""
    from types import SimpleNamespace

    from rag.answer import sentences as choose
    from rag.index.lexical import terms

    retrieved = row["retrieved"][:4]
    texts = [p["text"] for p in retrieved]
    ranked = choose.best_sentences(question, texts, embed, terms)
    focused = choose.focus(ranked, texts, Settings.focus_sentences)
    passages = [SimpleNamespace(chunk=SimpleNamespace(section=[p["section"]] if p["section"] else [], text=t))
                for p, t in zip(retrieved, focused)]
    return passages, focused, ranked


def _evidence_for(span: str, quote: str, sentences: list[str]) -> str:
    """The sentence that states the span: the quote shown if it does, else the first of `sentences` that does."""
    from rag.answer import short_answer

    if not span:
        return ""
    if short_answer.states(quote, span):
        return quote
    return next((s for s in sentences if short_answer.states(s, span)), "")


def _reread_row(row: dict, q, name: str, ways: list[str], embed, gen) -> dict:
    """One stored answer with each way of copying its phrase out of the prompt's passages."""
    from rag.answer import short_answer
    from rag.answer.prompting import build_messages
    from rag.answer.refusal import model_refused

    quote = " ".join(s["text"] for s in row["sentences"])
    d = {"set": name, "answerable": q.answerable, "answers": q.answers, "question": q.question,
         "quote": quote, "shipped": _shipped(row, q.question, quote), "draft": row["raw"]}
    if not (row["raw"] and quote and not model_refused(row["raw"])):
        return d
    passages, focused, ranked = _prompt_passages(row, q.question, embed)
    messages = build_messages(q.question, passages, focused)
    source = " ".join(focused)
    shown = [c.text for c in ranked if c.text in source]
    top = [quote] + [c for c in shown if c != quote][:2]
    chats = {  # (chat, leading messages that never change)
        "after": (messages + ({"role": "assistant", "content": row["raw"]},
                              {"role": "user", "content": REREAD_TURN}), 0),
        "direct": (({"role": "system", "content": DIRECT_SYSTEM},) + messages[1:], 0),
        "examples": (short_answer.span_messages(q.question, source), short_answer.SPAN_FIXED),
        "top3": (short_answer.span_messages(q.question, " ".join(top)), short_answer.SPAN_FIXED)}
    for label in ways:
        copied_from = " ".join(top) if label == "top3" else source
        span, logprob = gen.copy_span(chats[label][0], copied_from, fixed=chats[label][1])
        d[label] = (span, logprob, _evidence_for(span, quote, top if label == "top3" else shown))
    return d


def cmd_reread(out: Path, sets: list[str], ways: list[str]) -> None:
    """The phrase copied out of the prompt's passages (not out of the draft): `after` the draft, in the
    same chat ("now copy ..."); `direct`, the answer prompt with a copying instruction and no draft;
    `examples`, the shipped copying chat (two worked examples) with the passages as its source; `top3`,
    the same with the quote and the next two best-ranked shown sentences as the source. The
    evidence shown becomes the sentence that states the phrase. Compared with the shipped short
    answer, alone and as a fallback."""
    from eval.questions import load_jsonl
    from rag.answer import short_answer
    from rag.index.lexical import terms

    embed = _embedder()
    gen = _generator()
    data = []
    for name in sets:
        folder = out / f"{name}-calibration"
        questions = {q.id: q for q in load_jsonl(folder / "questions.jsonl")}
        for row in _rows(folder):
            d = _reread_row(row, questions[row["id"]], name, ways, embed, gen)
            data.append(d)
            print(json.dumps({k: v for k, v in d.items() if k != "answers"}), file=sys.stderr)

    def copied(label, floor, share):
        def pick(d):
            if label not in d:
                return "", d["quote"]
            span, logprob, evidence = d[label]
            if floor is not None and logprob < floor:
                return "", d["quote"]
            phrase = short_answer.accept(span, evidence, d["question"]) if evidence else ""
            if phrase and share and not short_answer.carries_draft(
                    phrase, short_answer.draft_sentence(d["draft"]), d["question"], terms):
                phrase = ""
            return (phrase, evidence) if phrase else ("", d["quote"])
        return pick

    variants = [("shipped (copied out of the draft)", lambda d: (d["shipped"], d["quote"]))]
    for label in ways:
        for floor in HINT_FLOORS:
            for share in (False, True):
                pick = copied(label, floor, share)
                tag = f"{label}, log-prob >= {floor}{', draft share' if share else ''}"
                variants.append((tag, pick))
                variants.append((f"shipped, else {tag}",
                                 lambda d, pick=pick: (d["shipped"], d["quote"]) if d["shipped"] else pick(d)))
    _phrase_table(data, sets, variants, evidence_column=True)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    quotes = sub.add_parser("quotes")
    quotes.add_argument("out", type=Path)
    prompt = sub.add_parser("prompt")
    prompt.add_argument("out", type=Path)
    prompt.add_argument("--variant", choices=sorted(PROMPT_VARIANTS) + ["examples"], required=True)
    hint = sub.add_parser("hint")
    hint.add_argument("out", type=Path)
    hint.add_argument("--sets", nargs="*", choices=ALL_SETS, default=list(ALL_SETS))
    reread = sub.add_parser("reread")
    reread.add_argument("out", type=Path)
    reread.add_argument("--sets", nargs="*", choices=ALL_SETS, default=list(ALL_SETS))
    reread.add_argument("--ways", nargs="*", choices=("after", "direct", "examples", "top3"), default=["direct", "examples"])
    losses = sub.add_parser("losses")
    losses.add_argument("out", type=Path)
    losses.add_argument("--part", choices=("calibration", "test"), default="calibration")
    losses.add_argument("--run", default=RUN, help="the run folder in each part (default: %(default)s)")
    for p in (prompt, sub.add_parser("pick")):
        if p is not prompt:
            p.add_argument("out", type=Path)
        p.add_argument("--sets", nargs="*", choices=ALL_SETS, default=list(SETS))
        p.add_argument("--limit", type=_positive, default=40, help="answerable questions per set")
    args = parser.parse_args(argv)
    from eval.calibrate.parts import part_folders
    from rag.errors import UserError

    try:
        part_folders(args.out, "calibration")
        if args.command == "quotes":
            cmd_quotes(args.out)
        elif args.command == "prompt":
            cmd_prompt(args.out, args.variant, args.sets, args.limit)
        elif args.command == "hint":
            cmd_hint(args.out, args.sets)
        elif args.command == "reread":
            cmd_reread(args.out, args.sets, args.ways)
        elif args.command == "losses":
            cmd_losses(args.out, args.part, args.run)
        else:
            cmd_pick(args.out, args.sets, args.limit)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"error: {error.filename} is missing: run the calibration {RUN!r} runs first "
              "(python -m eval.calibrate.crossdomain run OUT --part calibration --config eval/configs/collect.toml)",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
