"""Reading every format into chunks that fit the embedding model, with the real tokenizer."""
from __future__ import annotations

from pathlib import Path

import pytest

from rag.ingest.chunking import ChunkerConfig, chunk_paragraphs
from rag.index.engines import chunk_file
from rag.paths import sample_document
from rag.ingest.readers import UnreadableFile, read_blocks


def _pdf(path: Path, pages: list[list[str]], outline: list[tuple[str, int, int]] = ()) -> Path:
    """A real PDF: each page a list of lines; outline entries (title, level, page index)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for number, lines in enumerate(pages):
        for title, level, page in outline:
            if page == number:
                key = f"o{title}"
                pdf.bookmarkPage(key)
                pdf.addOutlineEntry(title, key, level=level)
        y = 780
        for line in lines:
            pdf.drawString(60, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return path


def test_sample_chunks_fit_the_model_and_keep_offsets(embedder):
    chunks = chunk_file(sample_document(), embedder.count_tokens, ChunkerConfig())
    source = sample_document().read_text(encoding="utf-8")
    assert len(chunks) >= 12
    for chunk in chunks:
        assert embedder.count_tokens(chunk.embedding_text()) <= embedder.max_tokens == 256
        assert source[chunk.start:chunk.end].split()[:2] == chunk.text.split()[:2]
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    again = chunk_file(sample_document(), embedder.count_tokens, ChunkerConfig())
    assert [c.chunk_id for c in again] == [c.chunk_id for c in chunks]  # stable ids


def test_long_paragraphs_split_at_sentences_and_never_exceed_the_limit(embedder, tmp_path):
    sentence = "The committee reviewed the Japan-U.S. arrangements in detail and recorded its findings. "
    run_on = "word " * 700 + "end."  # one "sentence" far longer than the limit
    doc = tmp_path / "long.md"
    doc.write_text(f"# Report\n\n{sentence * 60}\n\n## Annex\n\n{run_on.strip()}\n\nShort.\n\nAlso short.\n")
    chunks = chunk_file(doc, embedder.count_tokens, ChunkerConfig())
    assert all(embedder.count_tokens(c.embedding_text()) <= 256 for c in chunks)
    report = [c for c in chunks if c.section == ("Report",)]
    assert len(report) >= 4 and all(c.text.endswith("findings.") for c in report)
    annex = [c for c in chunks if c.section == ("Report", "Annex")]
    assert annex[-1].text.endswith("end.\nShort.\nAlso short.")  # short neighbours merged
    assert sum(c.text.count("word") for c in annex) == 700


def test_pdf_keeps_pages_and_uses_its_outline(tmp_path, embedder):
    path = _pdf(tmp_path / "report.pdf", [
        ["Budget Overview", "The budget grew by four percent this year.", "Spending rose in every region."],
        ["Regional Detail", "The northern region received most of the increase.", "Details follow in the annex."],
    ], outline=[("Budget Overview", 0, 0), ("Regional Detail", 1, 1)])
    chunks = chunk_file(path, embedder.count_tokens, ChunkerConfig())
    assert [(c.page, c.section) for c in chunks] == [
        (1, ("Budget Overview",)), (2, ("Budget Overview", "Regional Detail"))]
    assert "four percent" in chunks[0].text and "northern region" in chunks[1].text


def test_pdf_without_outline_reads_text_and_numbered_headings(tmp_path, embedder):
    path = _pdf(tmp_path / "plain.pdf", [["Section 1 Scope", "This applies to every member state."],
                                          ["Section 2 Terms", "Terms are defined here."]])
    chunks = chunk_file(path, embedder.count_tokens, ChunkerConfig())
    assert [(c.page, c.section) for c in chunks] == [(1, ("Section 1 Scope",)), (2, ("Section 2 Terms",))]


@pytest.mark.parametrize("name, data, reason", [
    ("empty.md", b"", "empty"),
    ("blank.txt", b"  \n\n \t\n", "empty"),
    ("junk.txt", bytes(range(256)) * 8, "binary"),
    ("image.png", b"\x89PNG\r\n", "unsupported"),
    ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
])
def test_unreadable_files_raise_a_named_skip(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableFile, match=reason) as info:
        read_blocks(path)
    assert name in str(info.value)


def test_non_utf8_text_is_decoded_not_rejected(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Caf\xe9 r\xe9sum\xe9 \x93quoted\x94.".encode("latin-1"))
    blocks = read_blocks(path)
    assert blocks[0].text == "Café résumé “quoted”."


def test_chunker_merges_only_within_a_section():
    from rag.records import Paragraph

    words = lambda text: len(text.split())  # a simple counter: the logic is the same
    paragraphs = [Paragraph("One.", ("A",), 0, 4), Paragraph("Two.", ("A",), 5, 9), Paragraph("Three.", ("B",), 10, 16)]
    chunks = chunk_paragraphs(paragraphs, "doc", words, ChunkerConfig(max_tokens=50, min_tokens=10, target_tokens=40))
    assert [(c.section, c.text) for c in chunks] == [(("A",), "One.\nTwo."), (("B",), "Three.")]


def test_a_wrapped_paragraph_glued_to_its_heading_is_one_line():
    """A line break inside a chunk ends a sentence, so a paragraph's own lines must be joined."""
    from rag.ingest.readers import markdown_blocks

    blocks = markdown_blocks("# Budget\nThe agency spent 350 million\ndollars in 2022.\n")
    assert [(b.kind, b.text) for b in blocks] == [("heading", "Budget"),
                                                  ("paragraph", "The agency spent 350 million dollars in 2022.")]


def test_every_format_the_readers_read_has_the_name_the_app_shows_and_is_accepted_for_upload():
    from app.web.uploads import UPLOAD_TYPES
    from rag.ingest.readers import FORMAT_NAMES, SUFFIXES

    assert set(FORMAT_NAMES) == set(SUFFIXES.values())
    assert set(UPLOAD_TYPES) == set(SUFFIXES)
