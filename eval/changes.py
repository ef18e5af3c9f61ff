"""What changed between two runs of the same question set, question by question.

    python -m eval.changes RUN_A RUN_B [--show 10]     # RUN: a `rag eval --out` folder or its results.jsonl

Summaries can hide a change (one question gained, another lost); this compares the answer records
themselves. A question is the same when what a user sees of it is the same: the answer, the
refusal and its reason, the short answer, the quoted sentences, the citations and what was
retrieved (sources by file name, so two copies of the documents in two folders compare; chunk ids,
which hash the path, are left out). Timings never compare. A signal either run lacks is listed
apart ("added"): a new measurement is not a changed answer.

Exit status: 0 when every shared question is the same, 1 when some changed, 2 for bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

SEEN = ("answer", "refused", "refusal_reason", "short_answer", "sentences", "citations", "retrieved", "scope",
        "formula", "flagged", "warnings", "confidence")


def comparable(value):
    """A record's value with what differs between two folders of the same documents taken out."""
    if isinstance(value, dict):
        return {k: (Path(v).name if k == "source" and isinstance(v, str) else comparable(v))
                for k, v in value.items() if k != "chunk_id"}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


@dataclass
class Changes:
    shared: int = 0
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # field -> question ids
    signals_changed: dict[str, list[str]] = field(default_factory=dict)
    signals_added: dict[str, int] = field(default_factory=dict)  # "+name": only in B, "-name": only in A

    @property
    def same(self) -> bool:
        return not self.changed and not self.signals_changed


def compare_runs(a: dict[str, dict], b: dict[str, dict]) -> Changes:
    """`a`, `b`: answer records by question id.

    >>> one = {"q1": {"answer": "1978", "refused": False, "signals": {"cosine": 0.8}, "timings": {"total_s": 3}}}
    >>> two = {"q1": {"answer": "1997", "refused": False, "signals": {"cosine": 0.8, "gain": 1}, "timings": {}}}
    >>> c = compare_runs(one, two)
    >>> c.changed, c.signals_added, c.same
    ({'answer': ['q1']}, {'+gain': 1}, False)
    """
    out = Changes(only_a=sorted(set(a) - set(b)), only_b=sorted(set(b) - set(a)))
    for qid in [q for q in a if q in b]:
        out.shared += 1
        for name in SEEN:
            if comparable(a[qid].get(name)) != comparable(b[qid].get(name)):
                out.changed.setdefault(name, []).append(qid)
        sa, sb = a[qid].get("signals") or {}, b[qid].get("signals") or {}
        for name in set(sa) | set(sb):
            if name in sa and name in sb:
                if sa[name] != sb[name]:
                    out.signals_changed.setdefault(name, []).append(qid)
            else:
                key = ("+" if name in sb else "-") + name
                out.signals_added[key] = out.signals_added.get(key, 0) + 1
    return out


def report(changes: Changes, a: dict, b: dict, show: int) -> str:
    lines = [f"{changes.shared} questions in both runs"
             + (f"; only in A: {len(changes.only_a)}" if changes.only_a else "")
             + (f"; only in B: {len(changes.only_b)}" if changes.only_b else "")]
    if changes.same:
        lines.append("every shared question is the same (answer, refusal, quote, citations, retrieval, signals)")
    for name, ids in sorted(changes.changed.items()):
        lines.append(f"changed {name}: {len(ids)} ({', '.join(ids[:5])}{', …' if len(ids) > 5 else ''})")
    for name, ids in sorted(changes.signals_changed.items()):
        lines.append(f"changed signal {name}: {len(ids)} ({', '.join(ids[:5])}{', …' if len(ids) > 5 else ''})")
    for key, count in sorted(changes.signals_added.items()):
        lines.append(f"signal {key[1:]} {'only in B' if key[0] == '+' else 'only in A'}: {count} questions")
    for qid in changes.changed.get("answer", [])[:show]:
        lines.append(f"\n{qid}: {a[qid].get('question', '')}\n  A: {a[qid].get('answer', '')}\n  B: {b[qid].get('answer', '')}")
    return "\n".join(lines)


def read_run(path: Path) -> dict[str, dict]:
    from rag.errors import UserError

    results = path / "results.jsonl" if path.is_dir() else path
    if not results.is_file():
        raise UserError(f"no results at {results} (name a `rag eval --out` folder or its results.jsonl)")
    try:
        text = results.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {results} ({exc.__class__.__name__})") from None
    rows = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if "answer" not in row:  # a question set's line has an id too
                raise KeyError("answer")
            rows[str(row["id"])] = row
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{results}, line {number}: not an answer record with an id") from None
    if not rows:
        raise UserError(f"{results} holds no answer records")
    return rows


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.changes", description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--show", type=int, default=10, help="changed answers to print in full (default 10)")
    args = parser.parse_args(argv)
    if args.show < 0:
        parser.error("--show must be 0 or more")
    a, b = read_run(args.run_a), read_run(args.run_b)
    if not set(a) & set(b):
        from rag.errors import UserError

        raise UserError(f"{args.run_a} and {args.run_b} share no question id: runs of different sets")
    changes = compare_runs(a, b)
    print(report(changes, a, b, args.show))
    return 0 if changes.same else 1


def main(argv: list[str] | None = None) -> int:
    from eval import run_command

    return run_command(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
