"""The span head, as an experiment on the calibration parts: start and end scores over the shown
passages' tokens, from the reader's own hidden states, against today's short answer and the
extractive answerer.

    python -m eval.experiments.span_head OUT [--layers 12 16 20] [--rank 32]

OUT is the answerability head's work folder (`python -m eval.calibrate.train_heads OUT` makes its parts):
the SQuAD 2.0 training part and the calibration parts. Test parts are never read.

Design (declared before any run):
- The prompt is today's (passages, then the question), so a passage token's state has not read
  the question. The head is a pointer in the manner of DensePhrases (Lee et al., 2021): the last
  prompt token's state, which has read everything, is the query; a token's start score is
  `x·U·Vᵀ·q + x·w` (U, V of low rank), its end score likewise. Changing the prompt to put the
  question first would change every fitted signal and the answerability head with it.
- Features: one forward pass per question over the prompt the pipeline builds from its own
  retrieved passages (the product's prefill computes the same states); cached, resumable.
- Examples: answerable questions whose gold answer is in a shown passage.
- Scored out of fold, folds grouped by article, by SQuAD token F1 of the best span (at most 15
  tokens, within one passage) per calibration part; compared on the same questions with the
  pipeline's short answer (refusals off) and with the extractive answerer.
- Decision rule: the span head (alone, or filling in where the pipeline gives no short phrase)
  replaces today's short answer only if its mean per-part F1 over the calibration parts is higher.

`--question-first` (session 12, declared before its run): the issue's design. The prompt states
the question before the passages (and again after them, where the answer starts), so passage
tokens have read it; heads are fitted per layer as a rank-0 (linear start/end over the token
states) and a rank-32 pointer. The same forward pass records the last-token states of every
question, unanswerable ones too, so the answerability head can be refit on that prompt. Rule:
the question-first design ships only if (a) its best span-head row, alone or filling in where the
question-first pipeline gives no short phrase, has a higher mean per-part F1 over the calibration
parts than today's short answer on today's prompt, and (b) the answerability head refit on its
states loses no more than 0.01 mean per-set AUC against today's at the shipped head's layer (15).
Otherwise today's prompt and heads stay.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.calibrate.states import prefill_token_states
from eval.calibrate.head_data import Example, checked_layers, group_of, part_rows, positive

LAYERS = (12, 16, 20)
MAX_SPAN_TOKENS = 15


@dataclass
class SpanExample:
    part: str
    qid: str
    group: str
    answers: list[str]
    text: str  # the rendered prompt
    offsets: np.ndarray  # (P, 2) character span of each passage token in `text`
    region: np.ndarray  # (P,) which shown passage each token belongs to
    states: dict  # layer -> (P, d) float16
    query: dict  # layer -> (d,) float32
    start: int
    end: int


def locate_gold(texts: tuple[str, ...], answers: list[str]) -> tuple[int, int, int] | None:
    """(passage number, start, end) of the first gold answer found in the shown passages."""
    for n, text in enumerate(texts):
        lowered = text.lower()
        for answer in answers:
            at = lowered.find(answer.lower().strip())
            if answer.strip() and at >= 0:
                return n, at, at + len(answer.strip())
    return None


def passage_tokens(text: str, offsets: np.ndarray, texts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Indices of the tokens lying inside the shown passages of the rendered prompt, each token's
    passage, and each passage's start in `text`."""
    starts, cursor = [], 0
    for shown in texts:
        at = text.find(shown, cursor)
        starts.append(at)
        cursor = at + len(shown) if at >= 0 else cursor
    keep, region = [], []
    for i, (a, b) in enumerate(offsets.tolist()):
        if b <= a:
            continue
        for n, (s, shown) in enumerate(zip(starts, texts)):
            if s >= 0 and s <= a and b <= s + len(shown):
                keep.append(i)
                region.append(n)
                break
    return np.array(keep, dtype=np.int64), np.array(region, dtype=np.int32), starts


def extract_part(folder: Path, cache: Path, pipeline_for, layers: tuple[int, ...],
                 last_layers: tuple[int, ...] = ()) -> tuple[list[SpanExample], dict]:
    """The part's span examples, and {question id: (label, {layer: last-token state})} at
    `last_layers` for every question (unanswerable ones too), from the same forward pass: what an
    answerability head refit on this prompt needs."""
    from tqdm import tqdm

    from rag.query import check_query

    rows = part_rows(folder)
    if not last_layers:
        rows = [r for r in rows if r["answers"]]
    cache.mkdir(parents=True, exist_ok=True)
    pipeline, examples, last = None, [], {}
    for row in tqdm(rows, desc=f"span {folder.name}", unit="q", file=sys.stderr):
        path = cache / f"{hashlib.sha1(row['id'].encode()).hexdigest()[:16]}.npz"
        if not path.is_file():
            pipeline = pipeline or pipeline_for(folder)
            question = check_query(row["question"], pipeline.config.k, pipeline.config.mode)
            fitted = pipeline.prepare(question, pipeline.config.k, pipeline.config.mode).fitted
            gold = locate_gold(fitted.texts, row["answers"]) if fitted.passages else None
            label = (1 if gold is not None else -1) if row["answers"] else 0
            partial = path.with_suffix(".tmp.npz")
            if gold is None and not (last_layers and fitted.passages):
                np.savez(partial, shown=False, label=label)
            elif gold is None:
                pf = prefill_token_states(pipeline.generator, fitted.messages, last_layers)
                np.savez(partial, shown=False, label=label, **{f"last{k}": v for k, v in pf["last"].items()})
            else:
                pf = prefill_token_states(pipeline.generator, fitted.messages, tuple(sorted({*layers, *last_layers})))
                keep, region, starts = passage_tokens(pf["text"], pf["offsets"], fitted.texts)
                offsets = pf["offsets"][keep]
                g0, g1 = starts[gold[0]] + gold[1], starts[gold[0]] + gold[2]
                inside = np.nonzero((offsets[:, 1] > g0) & (offsets[:, 0] < g1))[0]
                np.savez(partial, shown=len(inside) > 0, label=label, text=np.array(pf["text"]), offsets=offsets,
                         region=region, start=inside[0] if len(inside) else -1, end=inside[-1] if len(inside) else -1,
                         **{f"states{k}": pf["states"][k][keep] for k in layers},
                         **{f"query{k}": pf["last"][k] for k in layers},
                         **{f"last{k}": pf["last"][k] for k in last_layers})
            partial.replace(path)
        with np.load(path) as data:
            if last_layers and all(f"last{k}" in data.files for k in last_layers):
                last[row["id"]] = (int(data["label"]), {k: data[f"last{k}"].astype(np.float32) for k in last_layers})
            if not bool(data["shown"]):
                continue
            examples.append(SpanExample(
                folder.name, row["id"], group_of(folder.name, row), row["answers"], str(data["text"]),
                data["offsets"], data["region"], {k: data[f"states{k}"] for k in layers},
                {k: data[f"query{k}"] for k in layers}, int(data["start"]), int(data["end"])))
    return examples, last


def baselines(folder: Path, cache: Path, product_for, extractive_for) -> dict:
    """The pipeline's short answer (refusals off) and the extractive answerer's, per question."""
    from tqdm import tqdm

    path = cache / "baselines.json"
    done = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    rows = part_rows(folder)
    product = extractive = None
    for row in tqdm([r for r in rows if r["answers"] and r["id"] not in done], desc=f"baselines {folder.name}",
                    unit="q", file=sys.stderr):
        product = product or product_for(folder)
        extractive = extractive or extractive_for(folder)
        answer = product.ask(row["question"])
        plain = extractive.ask(row["question"])
        done[row["id"]] = {"product": answer.short_answer or answer.text, "product_short": answer.short_answer,
                           "extractive": plain.short_answer or plain.text}
        if len(done) % 10 == 0:
            path.write_text(json.dumps(done), encoding="utf-8")
    path.write_text(json.dumps(done), encoding="utf-8")
    return done


class PointerHead:
    """Start and end scores `x·U·Vᵀ·q + x·w + b` over standardised token states x and query q."""

    def __init__(self, dim: int, rank: int, seed: int = 13):
        import torch

        generator = torch.Generator().manual_seed(seed)
        self.params = {name: (torch.randn(*shape, generator=generator) * 0.01).requires_grad_()
                       for name, shape in (("u_start", (dim, rank)), ("v_start", (dim, rank)), ("w_start", (dim,)),
                                           ("u_end", (dim, rank)), ("v_end", (dim, rank)), ("w_end", (dim,)))}

    def scores(self, x, q):
        p = self.params
        start = (x @ p["u_start"]) @ (p["v_start"].T @ q) + x @ p["w_start"]
        end = (x @ p["u_end"]) @ (p["v_end"].T @ q) + x @ p["w_end"]
        return start, end


def standardiser(examples: list[SpanExample], layer: int):
    tokens = np.concatenate([e.states[layer].astype(np.float32) for e in examples])
    queries = np.stack([e.query[layer] for e in examples])
    t_mean, t_std = tokens.mean(0), tokens.std(0) + 1e-4
    q_mean, q_std = queries.mean(0), queries.std(0) + 1e-4
    return lambda e: ((e.states[layer].astype(np.float32) - t_mean) / t_std, (e.query[layer] - q_mean) / q_std)


def fit(examples: list[SpanExample], layer: int, rank: int, epochs: int = 12, l2: float = 1e-3):
    import torch

    norm = standardiser(examples, layer)
    data = [(torch.from_numpy(x), torch.from_numpy(q.astype(np.float32)), e.start, e.end)
            for e in examples for x, q in [norm(e)]]
    head = PointerHead(data[0][0].shape[1], rank)
    optimiser = torch.optim.Adam(head.params.values(), lr=1e-3)
    order = np.random.default_rng(13)
    for _ in range(epochs):
        for i in order.permutation(len(data)):
            x, q, s, e = data[i]
            start, end = head.scores(x, q)
            loss = (torch.nn.functional.cross_entropy(start[None], torch.tensor([s]))
                    + torch.nn.functional.cross_entropy(end[None], torch.tensor([e]))
                    + l2 * sum((v ** 2).sum() for v in head.params.values()))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return head, norm


def best_span(start: np.ndarray, end: np.ndarray, region: np.ndarray, longest: int = MAX_SPAN_TOKENS):
    """(s, e, score): the highest start + end with s <= e < s + longest, within one passage."""
    best = (0, 0, -np.inf)
    for s in np.argsort(-start)[:20]:
        stop = min(len(end), s + longest)
        same = np.nonzero(region[s:stop] == region[s])[0] + s
        e = same[np.argmax(end[same])]
        if start[s] + end[e] > best[2]:
            best = (int(s), int(e), float(start[s] + end[e]))
    return best


def span_text(example: SpanExample, s: int, e: int) -> str:
    return example.text[example.offsets[s][0]:example.offsets[e][1]].strip()


def predict(head, norm, example: SpanExample) -> tuple[str, float]:
    import torch

    x, q = norm(example)
    with torch.no_grad():
        start, end = head.scores(torch.from_numpy(x), torch.from_numpy(q.astype(np.float32)))
    s, e, score = best_span(start.numpy(), end.numpy(), example.region)
    return span_text(example, s, e), score


def out_of_fold(examples: list[SpanExample], layer: int, rank: int, folds: int = 5) -> list[tuple[str, float]]:
    from sklearn.model_selection import GroupKFold

    groups = np.array([e.group for e in examples])
    predictions: list = [None] * len(examples)
    for train, held in GroupKFold(n_splits=folds).split(np.zeros(len(examples)), groups=groups):
        head, norm = fit([examples[i] for i in train], layer, rank)
        for i in held:
            predictions[i] = predict(head, norm, examples[i])
    return predictions


def answerability_rows(last: dict, today_cache: Path, folders: list[Path]) -> list[str]:
    """Out-of-fold AUC per layer of an answerability head refit on this prompt's last-token
    states, next to the same fit on today's prompt's states (the shipped head's cache), on the
    same questions."""
    from eval.calibrate import train_heads

    def examples(states_of) -> list:
        found = []
        for folder in folders:
            rows = part_rows(folder)
            for row in rows:
                got = states_of(folder, row)
                if got is not None and got[0] >= 0:
                    found.append(Example(folder.name, row["id"], group_of(folder.name, row),
                                                     got[0], got[1], {}))
        return found

    def today(folder: Path, row: dict):
        path = today_cache / folder.name / f"{hashlib.sha1(row['id'].encode()).hexdigest()[:16]}.npz"
        if (folder.name, row["id"]) not in last or not path.is_file():
            return None
        with np.load(path) as data:
            return int(data["label"]), {int(k[5:]): data[k].astype(np.float32) for k in data.files if k.startswith("layer")}

    variants = {"question first": examples(lambda f, r: last.get((f.name, r["id"]))), "today's prompt": examples(today)}
    lines = ["", "## Answerability head refit on this prompt's states", "",
             "Out-of-fold mean per-set AUC (folds grouped by article; C 0.01, the shipped head's), on the questions "
             "both prompts label alike:", "", "| layer | question first | today's prompt |", "|---|---|---|"]
    common = set.intersection(*({(e.part, e.qid, e.label) for e in v} for v in variants.values()))
    variants = {k: [e for e in v if (e.part, e.qid, e.label) in common] for k, v in variants.items()}
    for layer in train_heads.LAYERS:
        cells = []
        for found in variants.values():
            sets = train_heads.per_set_auc(found, train_heads.out_of_fold(found, layer, 0.01))
            cells.append(f"{np.mean(list(sets.values())):.3f}")
        lines.append(f"| {layer} | " + " | ".join(cells) + " |")
    lines.append(f"\n{len(common)} questions.")
    return lines


def pointer_rank(text: str) -> int:
    """argparse type: 0 (a linear head) up to the hidden size's order of magnitude."""
    value = int(text)
    if not 0 <= value <= 256:
        raise argparse.ArgumentTypeError(f"must be 0 to 256, not {value}")
    return value


def main(argv=None) -> int:
    from rag.errors import UserError

    parser = argparse.ArgumentParser(prog="python -m eval.experiments.span_head", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the answerability head's work folder (parts, caches)")
    parser.add_argument("--layers", type=positive, nargs="+", default=list(LAYERS))
    parser.add_argument("--ranks", type=pointer_rank, nargs="+", default=[32],
                        help="pointer ranks to fit; 0 is a plain linear start/end head over the token states")
    parser.add_argument("--question-first", action="store_true",
                        help="the prompt also states the question before the passages (the issue's design); "
                             "features cached apart, and an answerability head refit on the same pass")
    parser.add_argument("--report", type=Path, help="write the Markdown report here")
    parser.add_argument("--no-generation", action="store_true",
                        help="skip generating the pipeline's answers on this prompt (slow); baselines already "
                             "cached are still used")
    args = parser.parse_args(argv)
    try:
        return experiment(args)
    except UserError as exc:
        print(f"span_head: error: {exc}", file=sys.stderr)
        return 2


def experiment(args) -> int:
    from eval.metrics import exact_match, token_f1
    from eval.scoring import strip_markers

    generator, layers, pipeline_for, extractive_for, folders = setup(args)
    key = generator.states_key.replace(":", "-")
    examples, answers, last = collect(args, folders, key, layers, pipeline_for, extractive_for)
    parts = sorted({e.part for e in examples if e.part.endswith("-calibration")})
    prompt = ("the question both before and after the passages" if args.question_first
              else "today's: passages, then the question")
    f1 = lambda text, e: token_f1(strip_markers(text), e.answers)
    lines = [f"# Span head on the calibration parts ({generator.name}, {generator.states_key})", "",
             f"Prompt: {prompt}.", "",
             f"{len(examples)} answerable questions with the gold in a shown passage "
             f"({sum(e.part.endswith('-calibration') for e in examples)} in calibration parts). "
             "SQuAD token F1 (EM) per part, span head scored out of fold (folds grouped by article).", "",
             "| answerer | mean F1 | " + " | ".join(parts) + " |", "|---|---|" + "---|" * len(parts)]

    def row(name: str, texts: dict) -> float:
        cells, means = [], []
        for part in parts:
            chosen = [e for e in examples if e.part == part and e.qid in texts]
            f = np.mean([f1(texts[e.qid], e) for e in chosen]) * 100
            em = np.mean([exact_match(strip_markers(texts[e.qid]), e.answers) for e in chosen]) * 100
            cells.append(f"{f:.1f} ({em:.0f})")
            means.append(f)
        lines.append(f"| {name} | {np.mean(means):.1f} | " + " | ".join(cells) + " |")
        return float(np.mean(means))

    results = compare(args, examples, answers, layers, folders, key, row)
    winner = max(results, key=results.get)
    lines += ["", f"Highest mean F1: {winner} ({results[winner]:.1f})."]
    if last:
        lines += answerability_rows(last, args.out / "head-features" / key, folders)
    text = "\n".join(lines) + "\n"
    if args.report:
        args.report.write_text(text, encoding="utf-8")
    print(text)
    return 0


def setup(args):
    """(the model, its layers, a pipeline per part folder, the same with the extractive answerer,
    the folders: the SQuAD training part, then the calibration parts)."""
    from dataclasses import replace

    from eval.calibrate.parts import part_folders
    from rag import assemble
    from rag.errors import UserError
    from rag.index.indexer import build_index
    from rag.settings import Settings

    out: Path = args.out
    training = out / "squad10-training"
    if not (training / "questions.jsonl").is_file():
        raise UserError(f"{training} is missing; make the parts with: python -m eval.calibrate.train_heads {out}")
    settings = Settings(answerability="signals")
    embedder = assemble.load_embedder(settings.embedding_model)
    generator = assemble.load_generator(settings, embedder, log=lambda m: print(m, file=sys.stderr))
    if generator.states_key is None:
        raise UserError(f"{generator.name} has no hidden states to train on")

    def pipeline_for(folder: Path, gen=generator):
        build_index([folder / "docs"], folder / "index", embedder, progress=False)
        config = replace(assemble.answer_config(settings), question_first=args.question_first)
        return assemble.answer_pipeline(assemble.open_retriever(settings, folder / "index"), gen, config,
                                        settings.answerability, decide=False)

    extractive = assemble.load_generator(replace(settings, generator="extractive", model=None), embedder)
    return (generator, checked_layers(generator, args.layers), pipeline_for,
            lambda folder: pipeline_for(folder, extractive), [training] + part_folders(out, "calibration"))


def collect(args, folders: list[Path], key: str, layers, pipeline_for, extractive_for):
    """(the examples, the baselines' answers, the last-token states): every forward pass first
    (minutes), then the generated baselines (longer)."""
    from eval.calibrate import train_heads

    features = "span-features-question-first" if args.question_first else "span-features"
    last_layers = tuple(train_heads.LAYERS) if args.question_first else ()
    examples, answers, last = [], {}, {}
    for folder in folders:
        found, states = extract_part(folder, args.out / features / key / folder.name, pipeline_for, layers, last_layers)
        examples += found
        last.update({(folder.name, qid): v for qid, v in states.items()})
    for folder in folders:
        cached = args.out / features / key / folder.name / "baselines.json"
        if folder.name.endswith("-calibration") and args.no_generation:
            answers.update(json.loads(cached.read_text(encoding="utf-8")) if cached.is_file() else {})
        elif folder.name.endswith("-calibration"):
            answers.update(baselines(folder, args.out / features / key / folder.name, pipeline_for, extractive_for))
    return examples, answers, last


def compare(args, examples, answers: dict, layers, folders: list[Path], key: str, row) -> dict:
    """Each answerer's mean F1 (a row of the table each): the pipeline, the extractive answerer and
    the span head per layer and rank."""
    results = {}
    if args.question_first:
        shipped = {}
        for folder in folders:
            path = args.out / "span-features" / key / folder.name / "baselines.json"
            if folder.name.endswith("-calibration") and path.is_file():
                shipped.update(json.loads(path.read_text(encoding="utf-8")))
        if shipped:
            results["pipeline short answer, today's prompt"] = row("pipeline short answer, today's prompt",
                                                                   {q: a["product"] for q, a in shipped.items()})
        answers = answers or {q: {"extractive": a["extractive"]} for q, a in shipped.items()}  # needs no prompt
    if any("product" in a for a in answers.values()):
        name = "pipeline short answer (this prompt)" if args.question_first else "pipeline short answer (today)"
        results[name] = row(name, {q: a["product"] for q, a in answers.items()})
    results["extractive answerer"] = row("extractive answerer", {q: a["extractive"] for q, a in answers.items()})
    for layer in layers:
        for rank in args.ranks:
            predictions = out_of_fold(examples, layer, rank)
            spans = {e.qid: p[0] for e, p in zip(examples, predictions)}
            name = f"span head, layer {layer}, " + (f"rank-{rank} pointer" if rank else "linear")
            results[name] = row(name, spans)
            if any("product" in a for a in answers.values()):
                filled = {q: (a["product_short"] or spans.get(q, a["product"])) for q, a in answers.items()}
                results[f"{name}, where today has no short phrase"] = row(
                    f"{name}, where the pipeline has no short phrase", filled)
    return results


if __name__ == "__main__":
    sys.exit(main())
