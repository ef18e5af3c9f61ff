"""A filing's boilerplate is never the answer: signature blocks, officers' certifications,
tables of contents, forward-looking-statement warnings and cover-page lines are marked at
indexing on the vendored 10-Qs (eval/data/tenq_lookalikes), and a question that finds them gets
no quote from them."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rag.ingest.boilerplate import KINDS, quotable

# a question that finds each kind, and what of the kind must not be quoted
QUESTIONS = {
    "signature": "Who signed Best Buy's Q2 FY2024 10-Q on behalf of the registrant?",
    "certification": "What did James Dimon certify in JPMorgan's Q1 2023 10-Q?",
    "contents": "What items does the table of contents of Best Buy's Q2 FY2024 10-Q list?",
    "forward-looking": "What does Amcor warn about forward-looking statements in its Q2 FY2023 10-Q?",
    "cover": "Is Walmart a large accelerated filer according to its Q1 FY2024 10-Q?",
}


@pytest.fixture(scope="module")
def chunks(tenq_index, embedder):
    from rag.index.retrieval import Retriever

    return Retriever.open(tenq_index, embedder).index.chunks


def test_every_filing_marks_its_signature_certification_and_cover(chunks):
    """(A signature page that runs into the certification exhibit is marked as the one or the
    other; Adobe's trimmed copy keeps no certification.)"""
    kinds = {(Path(c.source).name, c.boilerplate) for c in chunks}
    files = {Path(c.source).name for c in chunks}
    assert {name for name, k in kinds if k == "cover"} == files
    assert {name for name, k in kinds if k == "certification"} == files - {"2023 Q2 ADBE.pdf"}
    assert len({name for name, k in kinds if k == "signature"}) >= 5
    for kind in ("contents", "forward-looking"):
        assert len({name for name, k in kinds if k == kind}) >= 5, kind


def test_no_statement_row_is_marked(chunks):
    """The income statement, balance sheet and cash flows are what answers: none of their rows
    is boilerplate."""
    rows = [c for c in chunks if any(label in c.text for label in ("Total revenues —", "Net income —", "Total assets —",
                                                                  "Net earnings —", "Total net revenue —"))]
    assert len(rows) >= 7
    assert Counter(c.boilerplate for c in rows) == Counter({"": len(rows)})


@pytest.mark.parametrize("kind", KINDS)
def test_a_question_that_finds_boilerplate_is_never_answered_by_a_quote_of_it(kind, tenq_pipeline):
    answer = tenq_pipeline.ask(QUESTIONS[kind])
    found = {p.chunk.boilerplate for p in answer.retrieved}
    assert kind in found  # the question does reach the boilerplate: the check below means something
    by_text = {p.chunk.text: p.chunk.boilerplate for p in answer.retrieved}
    for sentence in answer.sentences:
        source = next((k for text, k in by_text.items() if sentence.text in text), "")
        assert quotable(sentence.text, source), (kind, sentence.text)
