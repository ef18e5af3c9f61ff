"""Answers and their sources as plain text, for the CLI and the /chat API (the chat's Markdown
and HTML are the app's: `app/render.py`)."""
from __future__ import annotations

from pathlib import Path

from rag.answer.decision import refusal_in_words  # noqa: F401 (a refusal's reason in words, for the front ends)
from rag.ingest.readers import strip_controls  # noqa: F401 (text a terminal shows as text)
from rag.ingest.tables import ROW_SEPARATOR  # noqa: F401 (between a table row's cells in a quote)
from rag.records import Answer, SentenceSupport


def source_place(passage) -> str:
    """The document's card, file name and page: "3M · 10-K · FY2018: 3M_2018_10K.pdf, page 60"."""
    chunk = passage.chunk
    name = " ".join(Path(chunk.source).name.split())  # a newline in a file name must not break a listing
    card = f"{' '.join(chunk.card.split())}: " if chunk.card else ""
    return card + name + (f", page {chunk.page}" if chunk.page else "")


def source_label(passage) -> str:
    return f"{passage.chunk.section_path or '(no section)'} — {source_place(passage)}"


def answer_text(answer: Answer) -> str:
    """Plain text for scripts (the /chat API and the CLI): answer, then numbered sources."""
    if answer.refused:
        return "\n".join([answer.text] + flagged_lines(answer))
    lines = [answer.text] + ([f"Confidence: {answer.confidence}"] if answer.confidence else [])
    unsupported = [s.text for s in answer.sentences if not s.supported]
    if unsupported:
        lines.append("Not supported by the sources: " + " | ".join(unsupported))
    if answer.formula:
        lines.append(f"Computed: {answer.formula}")
    lines.append("")
    if answer.scope:
        lines.append(f"Documents: {answer.scope}")
    lines.append("Sources:")
    lines += [f"[{c.n}] {source_label(c.passage)}" for c in answer.cited]
    return "\n".join(lines + flagged_lines(answer))


def flagged_lines(answer: Answer) -> list[str]:
    """The retrieved passages set aside because they address the assistant, one line each."""
    return [f"⚠ set aside, addresses the assistant ({answer.flagged[p.chunk.chunk_id]!r}): {source_label(p)}"
            for p in answer.retrieved if p.chunk.chunk_id in answer.flagged]


def render_answer(sentences: list[SentenceSupport]) -> str:
    """Answer text with canonical markers: "Formed in 1978 [1]."."""
    parts = []
    for s in sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        text = s.text
        end = text[-1] if text and text[-1] in ".!?" else ""
        body = text[:-1] if end else text
        parts.append(f"{body} {marks}{end or '.'}" if marks else text)
    return " ".join(parts)


def facts_table(facts) -> str:
    """Facts (`ingest.facts.Fact`) as aligned columns, one per cell: page, statement, the line item
    as printed and its standard name, the period column, the value as printed with its scale."""
    scales = {1e3: "thousand", 1e6: "million", 1e9: "billion"}
    rows = [("page", "statement", "line item", "standard", "period", "value")]
    for f in facts:
        value = f.text + (f" {scales[f.scale]}" if f.scale in scales else "") + (f" ({f.unit})" if f.unit else "")
        period = f.period + (f" [{f.months} months]" if f.months else "")
        rows.append((str(f.page or ""), f.statement or "-", " ".join(f.label.split())[:48], f.item or "-",
                     " ".join(period.split())[:60], value))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)) + "  " + r[-1] for r in rows)
