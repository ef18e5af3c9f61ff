"""Where each question was lost: the first stage of the answer's way that failed.

    document scope → page / table reached → row → column / period → arithmetic → decision

A question set says what it knows of the gold (the document, its pages or sections, the answer),
and each stage is judged only from what the set gives; a stage it gives nothing for is passed
over. Read from one answer record (the `rag ask --json` shape) and its gold, pure:

- **document scope**: the gold document is among the documents searched (the passages retrieved);
- **page / table reached**: a gold page (or gold section) is among the retrieved passages;
- **row**: the answer, shown or withheld, was read from a gold page or section (its citations, or
  a refused draft's place, `withheld`): reaching the page is not reading the right row of it;
- **column / period**: the value read is the gold one (a lookup read from the right row but the
  wrong column or period fails here);
- **arithmetic**: an answer computed by a formula from rows on the gold pages came out wrong
  (the set does not give the inputs, so a wrong input column and a wrong formula both land here);
- **decision**: the value read was right but refused, or the question has no answer and one was shown.

"right" means no stage failed: the right value shown, or a question the documents do not answer refused.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

STAGES = ("document scope", "page / table reached", "row", "column / period", "arithmetic", "decision")
RIGHT = "right"
UNJUDGED = "not judged"  # the value's grade needs a person (an explanation, not a number)


@dataclass(frozen=True)
class Gold:
    """What a question set knows of where the answer is and what it says."""

    answerable: bool = True
    documents: frozenset[str] = frozenset()  # file stems
    pages: frozenset[tuple[str, int]] = frozenset()  # (file stem, page from 1)
    sections: tuple[str, ...] = ()
    section_matches: Callable[[str, str], bool] = field(default=lambda got, gold: got == gold, compare=False)


def _stem(source: str) -> str:
    return Path(source).stem


def _at_gold(place: dict, gold: Gold) -> bool:
    """A passage (or a withheld draft's place) on a gold page, or in a gold section."""
    if gold.pages and (_stem(place.get("source", "")), place.get("page")) in gold.pages:
        return True
    return any(gold.section_matches(place.get("section", ""), g) for g in gold.sections)


def _values_read(record: dict) -> list[str]:
    """What the answer read, shown or not: its short answer or text, a refused draft's, each
    route's reading of a number."""
    if not record.get("refused"):
        return [record.get("short_answer") or record.get("answer", "")]
    withheld = record.get("withheld") or {}
    values = [withheld.get("short_answer") or withheld.get("sentence", "")] if withheld else []
    return [v for v in values + list((record.get("candidates") or {}).values()) if v]


def first_failure(record: dict, gold: Gold, is_gold_value: Callable[[str], bool | None]) -> str:
    """The first stage that failed for this answer, RIGHT, or UNJUDGED. `is_gold_value` says
    whether a text states the gold value (None: a person must judge)."""
    refused = bool(record.get("refused"))
    if not gold.answerable:
        return RIGHT if refused else "decision"
    retrieved = record.get("retrieved", [])
    if gold.documents and not any(_stem(p.get("source", "")) in gold.documents for p in retrieved):
        return "document scope"
    if (gold.pages or gold.sections) and not any(_at_gold(p, gold) for p in retrieved):
        return "page / table reached"
    places = record.get("citations", []) + ([record["withheld"]] if record.get("withheld") else [])
    if (gold.pages or gold.sections) and not any(_at_gold(p, gold) for p in places):
        return "row"
    verdicts = [is_gold_value(v) for v in _values_read(record)]
    if any(v is None for v in verdicts) and not any(verdicts):
        return UNJUDGED
    if not any(verdicts):
        return "arithmetic" if record.get("formula") else "column / period"
    return "decision" if refused else RIGHT


def counts(stages: list[str]) -> list[tuple[str, int]]:
    """Questions by first failed stage, in the way's order (RIGHT and UNJUDGED last)."""
    tally = Counter(stages)
    return [(stage, tally.get(stage, 0)) for stage in STAGES + (RIGHT, UNJUDGED) if stage in tally or stage in STAGES]


def table(stages: list[str]) -> list[str]:
    """The funnel as Markdown rows: each stage, the questions first lost there, and what reached it."""
    total, reached = len(stages), len(stages)
    lines = ["| first stage that failed | questions | reached this stage |", "|---|---|---|"]
    for stage, n in counts(stages):
        if stage in STAGES:
            lines.append(f"| {stage} | {n} | {reached} |")
            reached -= n
        else:
            lines.append(f"| ({stage}) | {n} | |")
    return lines + ["", f"{total} questions."]
