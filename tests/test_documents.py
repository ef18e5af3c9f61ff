"""Real documents as people have them: PDF layouts (running headers, hyphens, tables, headings set
large), Word files, the public agency reports, and the cited page drawn with its sentence marked."""
from __future__ import annotations

from pathlib import Path

import pytest

from eval.datasets import dataset_dir
from rag.index.engines import chunk_file
from rag.ingest.chunking import ChunkerConfig
from rag.ingest.readers import read_blocks

REPORTS = dataset_dir("us_fed_agency_reports_2022")


def laid_out_pdf(path: Path, pages: int = 5) -> Path:
    """A quarterly report: running header and footer, a heading set large, a numbered heading, a
    word hyphenated at a line end and a two-column table, on every page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for n in range(1, pages + 1):
        pdf.setFont("Helvetica", 9)
        pdf.drawString(60, 810, "ACME Holdings Quarterly Report")
        pdf.drawString(480, 30, f"Page {n}")
        pdf.setFont("Helvetica-Bold", 18)
        pdf.drawString(60, 760, f"Quarter {n} Results")
        pdf.setFont("Helvetica", 10)
        lines = [f"Revenue in quarter {n} rose because the new harbour depart-",
                 "ment opened its second terminal for grain exports.",
                 "", f"{n}.1 Regional Figures", "The figures by region follow in this table."]
        y = 730
        for line in lines:
            if line and line[0].isdigit():
                pdf.setFont("Helvetica-Bold", 12)
            pdf.drawString(60, y, line)
            pdf.setFont("Helvetica", 10)
            y -= 14 if line else 10
        for region, amount in (("Region", "Tonnes"), ("North", f"{n}20"), ("South", f"{n}45")):
            y -= 14
            pdf.drawString(60, y, region)
            pdf.drawString(320, y, amount)
        pdf.showPage()
    pdf.save()
    return path


@pytest.fixture(scope="module")
def report_blocks(tmp_path_factory):
    return read_blocks(laid_out_pdf(tmp_path_factory.mktemp("pdf") / "quarterly.pdf"))


def test_running_headers_footers_and_page_numbers_are_stripped(report_blocks):
    text = " ".join(b.text for b in report_blocks)
    assert "ACME Holdings Quarterly Report" not in text and "Page 3" not in text
    assert {b.page for b in report_blocks} == {1, 2, 3, 4, 5}  # pages are kept
    headings = [b.text for b in report_blocks if b.kind == "heading"]
    assert "Quarter 3 Results" in headings  # set large at the top of each page: a heading, not a running head


def test_a_word_hyphenated_at_a_line_end_is_rejoined(report_blocks):
    paragraphs = [b.text for b in report_blocks if b.kind == "paragraph" and "harbour" in b.text]
    assert len(paragraphs) == 5
    assert all("harbour department opened its second terminal" in p for p in paragraphs)


def test_table_rows_keep_their_column_headers_and_title(report_blocks):
    rows = [b.text for b in report_blocks if b.page == 2 and b.kind == "row"]
    assert rows == ["| Region | Tonnes |",
                    "The figures by region follow in this table. — North — Tonnes: 220",
                    "The figures by region follow in this table. — South — Tonnes: 245"]


def test_headings_come_from_font_size_and_numbering_without_an_outline(tmp_path, embedder):
    chunks = chunk_file(laid_out_pdf(tmp_path / "quarterly.pdf", pages=2), embedder.count_tokens, ChunkerConfig())
    sections = {c.section for c in chunks}
    assert ("Quarter 1 Results",) in sections and ("Quarter 2 Results", "2.1 Regional Figures") in sections
    table = next(c for c in chunks if "North — Tonnes: 220" in c.text)
    assert table.section == ("Quarter 2 Results", "2.1 Regional Figures") and table.page == 2


def test_a_damaged_pdf_is_skipped_with_its_reason_and_the_build_goes_on(tmp_path, embedder):
    from rag.index.indexer import build_index

    docs = tmp_path / "docs"
    docs.mkdir()
    laid_out_pdf(docs / "good.pdf", pages=1)
    whole = (docs / "good.pdf").read_bytes()
    (docs / "truncated.pdf").write_bytes(whole[: len(whole) // 3])
    (docs / "garbage.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    warnings = []
    report = build_index([docs], tmp_path / "index", embedder, warn=warnings.append, progress=False)
    assert any(Path(s).name == "good.pdf" for s in report.files_added)
    skipped = sorted(Path(s).name for s in report.files_skipped)
    assert "garbage.pdf" in skipped
    assert all(any(name in w for w in warnings) for name in skipped) and len(warnings) == len(skipped)


def word_file(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Harbour Plan", level=0)
    document.add_heading("1 Terminals", level=1)
    document.add_paragraph("The second terminal opened in 2021 and handles grain exports.")
    document.add_heading("1.1 Capacity", level=2)
    document.add_paragraph("Each berth takes ships of up to 80,000 tonnes.")
    table = document.add_table(rows=3, cols=2)
    for row, cells in zip(table.rows, (("Berth", "Depth"), ("North", "14 m"), ("South", "12 m"))):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    document.add_heading("2 Staff", level=1)
    document.add_paragraph("The harbour employs 310 people.")
    document.save(str(path))
    return path


def test_word_headings_give_the_section_path_and_tables_stay_rows(tmp_path, embedder):
    chunks = chunk_file(word_file(tmp_path / "plan.docx"), embedder.count_tokens, ChunkerConfig())
    by_text = {c.text: c for c in chunks}
    second = next(c for c in chunks if "second terminal" in c.text)
    assert second.section == ("Harbour Plan", "1 Terminals") and second.page is None
    table = next(c for c in chunks if "| North | 14 m |" in c.text)
    assert "| Berth | Depth |" in table.text and table.section == ("Harbour Plan", "1 Terminals", "1.1 Capacity")
    assert next(c for c in chunks if "310 people" in c.text).section == ("Harbour Plan", "2 Staff")
    assert by_text


def test_a_damaged_word_file_is_a_named_skip(tmp_path):
    from rag.ingest.readers import UnreadableFile

    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UnreadableFile, match="broken.docx: not a readable Word file"):
        read_blocks(path)


def test_the_agency_reports_read_with_no_warning_and_their_own_headings():
    from rag.ingest.paragraphs import repair_paragraphs

    paths = {}
    for pdf in sorted(REPORTS.glob("*.pdf")):
        blocks = read_blocks(pdf, warn=lambda message: pytest.fail(f"{pdf.name}: {message}"))
        paths[pdf.stem] = {" › ".join(p.section) for p in repair_paragraphs(blocks)}
    assert len(paths) == 10
    assert any(p.startswith("1. Safety › 1.1. Public Safety") for p in paths["DOT2022"])
    assert any(p.startswith("1. Climate Change › 1.1. Emissions") for p in paths["EPA2022"])
    assert all(len(sections) >= 10 for sections in paths.values()), {k: len(v) for k, v in paths.items()}


def test_the_cited_page_is_drawn_with_the_sentence_marked_and_cached(tmp_path, monkeypatch):
    import io

    from PIL import Image

    from app.web import pages

    monkeypatch.setattr(pages, "cache_dir", lambda: tmp_path / "pictures")
    pdf = laid_out_pdf(tmp_path / "quarterly.pdf", pages=2)
    sentence = "The figures by region follow in this table."
    marked = Image.open(io.BytesIO(pages.render_cited_page(pdf, 2, sentence))).convert("RGB")
    plain = Image.open(io.BytesIO(pages.render_cited_page(pdf, 2, ""))).convert("RGB")
    def yellow(image) -> int:
        import numpy as np

        r, g, b = np.asarray(image).reshape(-1, 3).T.astype(int)
        return int(((r > 200) & (g > 180) & (b < 170)).sum())

    assert yellow(marked) > 500 and yellow(plain) < 50
    assert len(list((tmp_path / "pictures").glob("*.jpg"))) == 2
    assert pages.render_cited_page(pdf, 9, sentence) is None  # no such page


def test_table_of_contents_entries_are_not_indexed(tmp_path):
    from test_ingest import _pdf

    path = _pdf(tmp_path / "contents.pdf", [["Contents", "Quarter Results..........................3",
                                             "Regional Figures . . . . . . . . . . . 4"],
                                            ["Quarter Results", "Revenue rose by 8.5 percent in the quarter."]])
    text = " ".join(b.text for b in read_blocks(path))
    assert "8.5 percent" in text and "....." not in text and ". . . ." not in text


def test_pdf_words_placed_apart_without_space_characters_are_kept_apart():
    """DOL2022's first page has its spaces as gaps between glyphs: "ThisStrategicPlan" before."""
    blocks = read_blocks(REPORTS / "DOL2022.pdf")
    first = next(b.text for b in blocks if b.kind == "paragraph" and b.page == 1 and "Strategic" in b.text)
    assert first.startswith("This Strategic Plan meets the requirements of the Government Performance Results Act")
    assert "ThisStrategicPlan" not in first and "GovernmentPerformance" not in first
