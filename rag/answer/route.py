"""The route stage: answers that a collection's structure gives without the model, each a
candidate the decision (`decision.py`, rules 0 and C) accepts or refuses.

- a period the documents do not hold: one line naming the nearest they do hold (rule 0);
- a value across periods ("over the quarters"): one cell per document of the scope, ordered by
  period, each cited;
- a standard metric ("the quick ratio"): computed in code from the named filing's statement
  facts (`metrics`), each input cited;
- a standard line item's value ("the FY2019 inventories"): the named filing's statement fact for
  the year (`line_item`), its printed row cited;
- a value ("the FY2018 capex"): the table cell that holds it, or a formula the question defines
  computed from cited cells.

A question none of these answers (or whose candidate is refused) takes the text route: the model
drafts from the passages (`pipeline`), with the best cell's score kept as a signal.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from rag.answer import collection
from rag.answer import fact_formulas
from rag.answer import line_item
from rag.answer import metrics
from rag.answer.confirm import Confirmation, confirm, fact_reading, period_facts
from rag.answer.decision import Signals
from rag.answer.question import Question
from rag.answer.search import Prepared
from rag.index.lexical import terms
from rag.ingest.cards import core_name
from rag.index.retrieval import Retriever
from rag.records import Answer, Citation, Passage, SentenceSupport
from rag.render import render_answer


class Routed(NamedTuple):
    """A structured candidate (None: none) with what the decision reads of it; `cell_match` is the
    best cell's score of a value question, for the text route's signals."""

    answer: Answer | None = None
    signals: Signals = Signals()
    cell_match: float | None = None


def structured(question: Question, prepared: Prepared, retriever: Retriever, embed, model: str,
               timings: dict, threshold: float) -> Routed:
    """The first structured route that holds for the question (see the module's docstring)."""
    scope = prepared.scope
    if scope.missing:
        return Routed(Answer(question.text, scope.missing, True, [], [], [], model, timings, scope=scope.missing),
                      Signals(missing_period=scope.missing))
    if question.trend:
        return across_documents(question, prepared, retriever, embed, model, timings, threshold)
    if question.metric and (computed := from_metric(question, prepared, retriever, model, timings)).answer:
        return computed
    if question.formula and (computed := from_fact_formula(question, prepared, retriever, model, timings)).answer:
        return computed
    if (question.item and question.value and not (question.metric or question.formula or question.arithmetic)
            and (read := from_line_item(question, prepared, retriever, embed, model, timings)).answer):
        return read
    if not prepared.fitted.passages or not question.value:
        return Routed()
    return from_cell(question, prepared, retriever, embed, model, timings)


# Which filing's statements a fact route reads when the period matches several documents: the
# annual report over the quarterly one over the earnings release over a current report (an 8-K
# carries no statements of its own, a release condensed ones).
_KIND_RANK = {"10-K": 0, "20-F": 0, "10-Q": 1, "earnings release": 2, "8-K": 3}


def the_filing(question: Question, prepared: Prepared, retriever: Retriever) -> str | None:
    """The one filing of the scope whose statement facts a fact route reads: the scope's only
    document, else, among documents of one organisation with statement facts, the one of the
    highest kind (the fiscal year's own over another reading's on a tie); None when the scope is
    every document, spans organisations, or two documents tie."""
    sources = prepared.scope.sources
    if len(sources) == 1:
        return sources[0]
    cards = retriever.cards()
    held = [s for s in sources if s in cards and any(f.statement for f in retriever.facts(s))]
    if not held or len({core_name(cards[s].organisation) for s in held}) != 1:
        return None
    year = max(question.asked.years, default=None)
    rank = lambda s: (_KIND_RANK.get(cards[s].kind, 4), cards[s].fiscal_year != year)  # noqa: E731
    best = min(held, key=rank)
    return best if sum(rank(s) == rank(best) for s in held) == 1 else None


def from_metric(question: Question, prepared: Prepared, retriever: Retriever, model: str, timings: dict) -> Routed:
    """A standard metric the question names, computed in code from the one filing it names
    (`metrics`): the result, the formula, each input with its statement row cited."""
    if (source := the_filing(question, prepared, retriever)) is None:
        return Routed()
    facts, card = retriever.facts(source), retriever.cards().get(source)
    chosen = lambda item: period_facts(facts, item, card)  # noqa: E731
    if question.metric_years:  # "the FY2015 - FY2017 3 year average": each year's own facts
        offset = fact_formulas.year_offset(card)
        for_year = lambda year: lambda item: fact_formulas.year_facts(facts, item, year, offset)  # noqa: E731
        found = next((value for metric in metrics.variants(question.metric)
                      if (value := metrics.averaged(metric, for_year, card, question.metric_years))), None)
        if found is None:
            return Routed()
    else:
        found = next((value for metric in metrics.variants(question.metric)
                      if (value := metrics.compute(metric, chosen, card))), None)
    if found is None:
        return _not_computed(question, prepared, facts, chosen, card, model, timings)
    if (rows := _printed_rows(found.inputs, source, retriever)) is None:
        return Routed()
    cited, sentences = rows
    shown = found.shown(question.scale)
    text = f"{shown} — {found.formula()} " + " ".join(f"[{c.n}]" for c in cited)
    answer = Answer(question.text, text, False, sentences, cited, [c.passage for c in cited], model, timings,
                    answerability=1.0, short_answer=shown, scope=prepared.scope.reason, formula=found.formula(),
                    flagged=prepared.flagged, confidence="computed from the filing's statements")
    return Routed(answer, Signals(route="metric"))


def _printed_rows(inputs, source: str, retriever: Retriever) -> tuple[list[Citation], list[SentenceSupport]] | None:
    """Each input fact's printed row, cited: the second reading of a value computed from facts
    (the fact's label and cell as they stand in a passage of its page); None when one is not
    found, and then nothing is shown."""
    cited, sentences = [], []
    for fact in dict.fromkeys(inputs):
        chunk = next((c for c in retriever.index.chunks if c.source == source and c.page == fact.page
                      and fact.label in c.text and fact.text in c.text), None)
        if chunk is None:
            return None
        line = next((ln for ln in chunk.text.split("\n") if fact.label in ln and fact.text in ln), chunk.text)
        n = len(cited) + 1
        cited.append(Citation(n, Passage(chunk, 1.0, n), 1.0))
        sentences.append(SentenceSupport(_around(line, fact), [n], 1.0, True, [n], {n: line}))
    return cited, sentences


def _around(line: str, fact) -> str:
    """The fact's row as quoted: a statement read as running text is one long line, so only the
    caption and the numbers after it."""
    if len(line) <= 300:
        return line
    start = line.find(fact.label)
    return line[start:line.find(fact.text, start) + len(fact.text)] if start >= 0 else line[:300]


def from_fact_formula(question: Question, prepared: Prepared, retriever: Retriever, model: str,
                      timings: dict) -> Routed:
    """A formula the question defines or implies (a growth rate, a CAGR) computed from the one
    named filing's statement facts (`fact_formulas`), each input's row cited; nothing when a
    term has no single fact for its year (the cell route then tries the passages' rows)."""
    if question.beyond_definition or (source := the_filing(question, prepared, retriever)) is None:
        return Routed()
    found = fact_formulas.compute(question.formula, question.formula_items, retriever.facts(source),
                                  retriever.cards().get(source), question.asked.years)
    if found is None or (rows := _printed_rows(found.inputs, source, retriever)) is None:
        return Routed()
    cited, sentences = rows
    shown = f"{found.value:,.2f}"
    text = f"{shown} — {found.shown} = {shown} " + " ".join(f"[{c.n}]" for c in cited)
    answer = Answer(question.text, text, False, sentences, cited, [c.passage for c in cited], model, timings,
                    answerability=1.0, short_answer=shown, scope=prepared.scope.reason, formula=found.shown,
                    flagged=prepared.flagged, confidence="computed from the filing's statements")
    return Routed(answer, Signals(route="metric"))


def from_line_item(question: Question, prepared: Prepared, retriever: Retriever, embed, model: str,
                   timings: dict) -> Routed:
    """A standard line item's value for the asked year of the one named filing, from its
    statement facts (`line_item`), its printed row cited. The cell reader reads that row alone as
    a second route (its column for the asked period): a different value refuses the number, naming both; a row it cannot read
    (a statement printed as running text) leaves the printed row as the second reading. Nothing
    when the facts give no single value (the cell route then reads the passages' rows)."""
    if question.asked.half == 2 or (source := the_filing(question, prepared, retriever)) is None:
        return Routed()  # a second half is no column of a filing: the year less its first half
    found = line_item.value_of(question.item, retriever.facts(source), retriever.cards().get(source),
                               question.asked.years, question.scale, months=6 if question.asked.half else 3,
                               wording=question.text)
    if found is None or (rows := _printed_rows((found.fact,), source, retriever)) is None:
        return Routed()
    cited, sentences = rows
    fact = found.fact
    readings = [("facts", fact_reading(fact))]
    row = replace(cited[0].passage, chunk=replace(cited[0].passage.chunk, text=sentences[0].quotes[1]))  # that row alone
    cell = collection.cell_answer(question, [row], embed, terms, retriever.cards(), threshold=0.0)
    agreement, unconfirmed = "", ""
    if cell is not None and not cell.formula:
        readings.insert(0, ("cell", f"{cell.short}: the row '{cell.rows[0].label}' (page {fact.page})"))
        if cell.value != fact.value:
            agreement = "disagree"
            unconfirmed = Confirmation("disagree", fact).reason(cell.short, f"the row '{cell.rows[0].label}'")
        else:
            agreement = "agree"
    else:
        readings.insert(0, ("row", sentences[0].text))
    text = f"{found.shown} — {found.where()} [1]"
    answer = Answer(question.text, text, False, sentences, cited, [c.passage for c in cited], model, timings,
                    answerability=1.0, short_answer=found.shown, scope=prepared.scope.reason,
                    flagged=prepared.flagged, confidence="read from the filing's statements")
    return Routed(answer, Signals(route="metric", agreement=agreement, candidates=tuple(readings),
                                  unconfirmed=unconfirmed))


def from_cell(question: Question, prepared: Prepared, retriever: Retriever, embed, model: str,
              timings: dict) -> Routed:
    """The cell (or formula over cells) that answers a value question, from its table rows
    searched deeper than its passages (a statement's rows rank below its prose)."""
    scope = prepared.scope
    deeper = [p for p in retriever.search(question.row_query, k=max(question.k, collection.ROW_DEPTH),
                                          mode=question.mode, sources=scope.sources)
              if p.chunk.chunk_id not in prepared.flagged]
    found = collection.cell_answer(question, deeper, embed, terms, retriever.cards(), threshold=0.0)
    if found is None:
        return Routed(cell_match=0.0)
    checked = _confirmed(question, found, deeper, retriever)
    sentences = collection.cell_sentences(found)
    text = f"{found.short} — " + render_answer(sentences) + (f" ({found.formula})" if found.formula else "")
    cited = [Citation(n, deeper[n - 1], found.score) for n in sorted({s.citations[0] for s in sentences})]
    answer = Answer(question.text, text, False, sentences, cited, deeper, model, timings, answerability=found.score,
                    short_answer=found.short, signals=Signals(cell=found.score).recorded(), scope=scope.reason,
                    formula=found.formula, flagged=prepared.flagged,
                    confidence="read from a table" if not found.formula else "computed from table cells")
    readings = (("cell", f"{found.short}: {_where(found, deeper)}"),) + (
        (("facts", fact_reading(checked.fact)),)
        if checked.fact is not None else ())
    return Routed(answer, Signals(route="cell", cell=found.score, agreement=checked.agreement, candidates=readings,
                                  unconfirmed=checked.reason(found.short, _where(found, deeper))), found.score)


def _confirmed(question: Question, found, passages, retriever: Retriever) -> Confirmation:
    """The statement facts' word on a single cell's value (a formula's inputs are not checked)."""
    if found.formula:
        return Confirmation("")
    source = passages[found.rows[0].passage - 1].chunk.source
    return confirm(found.value, question.item, retriever.facts(source), retriever.cards().get(source),
                   label=found.rows[0].label)


def _where(found, passages) -> str:
    """Where a cell was read: "the row 'Total revenues' (2023 Q1 WMT.pdf, page 3)"."""
    row = found.rows[0]
    chunk = passages[row.passage - 1].chunk
    return f"the row '{row.label}' ({Path(chunk.source).name}{f', page {chunk.page}' if chunk.page else ''})"


def _not_computed(question: Question, prepared: Prepared, facts, chosen, card, model: str, timings: dict) -> Routed:
    """A metric of a filing whose statements lack an input for its period: refused in words,
    with no other route guessing it; nothing when the document has no statements at all."""
    if not any(f.statement for f in facts):
        return Routed()
    lacking = min((metrics.lacking(m, chosen) for m in metrics.variants(question.metric)), key=len)
    period = card.period if card is not None and card.period else "its period"
    reason = (f"the {question.metric} needs {', '.join(lacking)} for {period}, which the filing's statements do not "
              f"give as one value each")
    answer = Answer(question.text, reason[0].upper() + reason[1:] + ".", True, [], [], prepared.retrieved, model,
                    timings, refusal_reason=reason, scope=prepared.scope.reason)
    return Routed(answer, Signals(route="metric", agreement="unconfirmed", unconfirmed=reason))


def across_documents(question: Question, prepared: Prepared, retriever: Retriever, embed, model: str,
                     timings: dict, threshold: float) -> Routed:
    """A value across periods, one per document of the scope, each cited, ordered by period."""
    cards = retriever.cards()
    sources = [s for s in (prepared.scope.sources or list(cards)) if s in cards and cards[s].identified]
    if question.granularity:  # "quarters": quarterly documents; "years": annual
        sources = [s for s in sources if (cards[s].quarter is not None) == (question.granularity == "quarters")] \
            or sources
    if len(sources) < 2:
        return Routed()
    metric = question.trend_metric
    found, cited = [], []
    for source in sorted(sources, key=lambda s: cards[s].sort_key()):
        passages = retriever.search(metric, k=max(question.k, collection.ROW_DEPTH), mode=question.mode,
                                    sources=(source,))
        value = collection.value_in(passages, metric, cards[source], embed, terms, threshold)
        if value is None:
            continue
        row = value.rows[0]
        cited.append(Citation(len(cited) + 1, passages[row.passage - 1], value.score))
        found.append(SentenceSupport(f"{cards[source].period or cards[source].line()}: {value.short}",
                                     [len(cited)], round(value.score, 4), True, [len(cited)], {len(cited): row.line}))
    if len(found) < 2:
        return Routed()
    text = f"{found[0].text.split(': ', 1)[0]} to {found[-1].text.split(': ', 1)[0]}: " + "; ".join(
        f"{s.text} [{s.citations[0]}]" for s in found)
    weakest = min(c.support for c in cited)
    answer = Answer(question.text, text, False, found, cited, [c.passage for c in cited], model, timings,
                    answerability=weakest, signals=Signals(cell=weakest).recorded(),
                    scope=prepared.scope.reason or f"searched {len(sources)} documents", confidence="read from the tables")
    return Routed(answer, Signals(route="trend", cell=weakest))
