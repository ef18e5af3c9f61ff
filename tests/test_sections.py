"""Section paths from headings, on the sample and on small hand-made documents."""
from __future__ import annotations

import pytest

from rag.ingest.paragraphs import repair_paragraphs, split_sentences
from rag.paths import sample_document
from rag.ingest.readers import html_blocks, markdown_blocks, text_blocks
from rag.records import SECTION_SEPARATOR
from rag.ingest.sections import classify_heading

CH = "Chapter 3 Strengthening of the Japan-U.S. Alliance"
S1 = "Section 1 Significance of the Japan-U.S. Security Arrangements"
S2 = "Section 2 Overview of the Revision of the Guidelines"
S2_1 = "1 Background to the Revision of the Guidelines"

# (start of paragraph, section path) for every paragraph of the sample, in order.
SAMPLE_PARAGRAPHS = [
    ("Based on the Japan-U.S. Security Treaty", (CH,)),
    ("The military presence of U.S. Forces", (CH,)),
    ("In the current international community", (CH, S1, "1 Maintenance of Japan's Peace and Security")),
    ("Consequently, Japan has maintained", (CH, S1, "1 Maintenance of Japan's Peace and Security")),
    ("Specifically, as well as providing", (CH, S1, "1 Maintenance of Japan's Peace and Security")),
    ("Japan intends to effectively utilize", (CH, S1, "1 Maintenance of Japan's Peace and Security")),
    ("Article 6 of the Japan-U.S. Security Treaty states",
     (CH, S1, "2 Maintenance of Peace and Stability in the Region Surrounding Japan")),
    ("In the regions surrounding Japan", (CH, S1, "2 Maintenance of Peace and Stability in the Region Surrounding Japan")),
    ("The Japan-U.S. Security Arrangements are the foundation",
     (CH, S1, "3 Further Stabilization of the International Security Environment")),
    ("Currently, we are confronted", (CH, S1, "3 Further Stabilization of the International Security Environment")),
    ("In particular, under the Japan-U.S.", (CH, S1, "3 Further Stabilization of the International Security Environment")),
    ("The peace and prosperity of the international", (CH, S1, "3 Further Stabilization of the International Security Environment")),
    ("It is necessary for both Japan", (CH, S2)),
    ("The 1978 Guidelines were formulated", (CH, S2, S2_1, "1 Background to the Formulation of the Guidelines")),
    ("More than 17 years have passed", (CH, S2, S2_1, "2 Background to the Revision")),
    ("Against the backdrop of these changes", (CH, S2, S2_1, "2 Background to the Revision")),  # truncated end
]


@pytest.fixture(scope="module")
def sample_paragraphs():
    return repair_paragraphs(markdown_blocks(sample_document().read_text(encoding="utf-8")))


def test_every_sample_paragraph_has_its_section_path(sample_paragraphs):
    got = [(p.text[: len(start)], p.section) for p, (start, _) in zip(sample_paragraphs, SAMPLE_PARAGRAPHS)]
    assert got == SAMPLE_PARAGRAPHS
    assert len(sample_paragraphs) == len(SAMPLE_PARAGRAPHS)


def test_article_6_paragraph_path(sample_paragraphs):
    para = next(p for p in sample_paragraphs if p.text.startswith("Article 6"))
    assert SECTION_SEPARATOR.join(para.section) == (
        "Chapter 3 Strengthening of the Japan-U.S. Alliance › Section 1 Significance of the Japan-U.S. "
        "Security Arrangements › 2 Maintenance of Peace and Stability in the Region Surrounding Japan"
    )


@pytest.mark.parametrize("broken_end, continuation", [
    ("it has become more important than ever to strengthen the", "Japan-U.S. Alliance for the security of Japan."),
    ("in the region such as South Korea,", "Australia, Thailand and the Philippines"),
    ("over sovereignty of the territory or", "vested interests are likely to arise"),
    ("The strong bonds", "forged between Japan and the United States"),
])
def test_paragraphs_broken_at_page_ends_are_rejoined(sample_paragraphs, broken_end, continuation):
    joined = [p for p in sample_paragraphs if broken_end in p.text]
    assert len(joined) == 1
    assert f"{broken_end} {continuation}" in joined[0].text


def test_repaired_offsets_span_the_source(sample_paragraphs):
    source = sample_document().read_text(encoding="utf-8")
    for p in sample_paragraphs:
        assert source[p.start:p.end].split()[:3] == p.text.split()[:3]
        assert source[p.start:p.end].split()[-2:] == p.text.split()[-2:]


@pytest.mark.parametrize("heading, style, rank, number", [
    ("Chapter 3", "chapter", 1, 3),
    ("Part II Foundations", "part", 0, 2),
    ("Section 1 Significance", "section", 2, 1),
    ("2 Maintenance of Peace", "number", 4, 2),
    ("2.3 Scope", "decimal", 5, 3),
    ("(1) Peacetime", "paren", 6, 1),
    ("(b) Details", "letter", 7, 2),
    ("1978 Guidelines and after", "plain", None, None),
    ("Introduction", "plain", None, None),
])
def test_classify_heading(heading, style, rank, number):
    label = classify_heading(heading)
    assert (label.style, label.rank, label.number) == (style, rank, number)


def test_plain_markdown_nests_by_depth():
    text = "# Guide\n\nIntro.\n\n## Install\n\nRun it.\n\n### Linux\n\nUse apt.\n\n## Use\n\nAsk."
    paragraphs = repair_paragraphs(markdown_blocks(text))
    assert [p.section for p in paragraphs] == [
        ("Guide",), ("Guide", "Install"), ("Guide", "Install", "Linux"), ("Guide", "Use")]


def test_numbered_headings_nest_by_numbering_despite_flat_markup():
    text = ("## Part I Basics\n\n## 1 Scope\n\nA.\n\n## (1) Detail\n\nB.\n\n## (2) More\n\nC.\n\n"
            "## 2 Terms\n\nD.\n\n## Part II Advanced\n\nE.")
    paragraphs = repair_paragraphs(markdown_blocks(text))
    assert [p.section for p in paragraphs] == [
        ("Part I Basics", "1 Scope"),
        ("Part I Basics", "1 Scope", "(1) Detail"),
        ("Part I Basics", "1 Scope", "(2) More"),
        ("Part I Basics", "2 Terms"),
        ("Part II Advanced",),
    ]


def test_html_headings_give_sections():
    html = ("<html><head><title>t</title><script>var x = 1;</script></head><body>"
            "<h1>Report</h1><p>Opening words.</p><h2>Findings</h2><p>First finding.</p>"
            "<ul><li>Point one.</li></ul><h2>Method</h2><p>How it was done.</p></body></html>")
    paragraphs = repair_paragraphs(html_blocks(html))
    assert [(p.text, p.section) for p in paragraphs] == [
        ("Opening words.", ("Report",)),
        ("First finding.", ("Report", "Findings")),
        ("Point one.", ("Report", "Findings")),
        ("How it was done.", ("Report", "Method")),
    ]
    assert "var x" not in " ".join(p.text for p in paragraphs)
    first = paragraphs[0]
    assert html[first.start:first.end] == "Opening words."


def test_plain_text_numbered_lines_are_headings():
    text = "Chapter 1 Origins\n\nIt began.\n\n1 Early years\n\nSlowly, at first.\n\n2 Later years\n\nFaster."
    paragraphs = repair_paragraphs(text_blocks(text))
    assert [p.section for p in paragraphs] == [
        ("Chapter 1 Origins",), ("Chapter 1 Origins", "1 Early years"), ("Chapter 1 Origins", "2 Later years")]


def test_sentences_do_not_break_after_abbreviations():
    text = ("The U.S. Forces in Japan deter attacks. Article 5 of the Japan-U.S. Security Treaty applies, "
            "e.g. to bilateral action. Dr. Smith agreed! Did he? Yes.")
    assert split_sentences(text) == [
        "The U.S. Forces in Japan deter attacks.",
        "Article 5 of the Japan-U.S. Security Treaty applies, e.g. to bilateral action.",
        "Dr. Smith agreed!", "Did he?", "Yes."]
