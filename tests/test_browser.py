"""A real browser (Debian's chromium, headless, driven by Playwright) against the running app."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from rag.paths import sample_document
from test_app import start

CHROMIUM = os.environ.get("RAG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# Flags that keep Chromium from calling out to Google's services on a closed network.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        missing = "chromium not installed: apt-get install chromium"
        if os.environ.get("RAG_REQUIRE_BROWSER") == "1":  # CI sets it: there a missing browser is a failure
            pytest.fail(f"{missing} (RAG_REQUIRE_BROWSER=1)")
        pytest.skip(missing)
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def sample_url(tmp_path_factory):
    demo, state, url = start(tmp_path_factory.mktemp("browser-app"), [sample_document()])
    yield url
    demo.close()


def _ready_page(browser, url: str, height: int):
    """A new tab on the app, once its status line says the documents are ready."""
    page = browser.new_page(viewport={"width": 1280, "height": height})
    page.goto(url)
    page.wait_for_function("() => (document.querySelector('#status')?.innerText || '').includes('Ready')",
                           timeout=300_000)
    return page


def _ask(page, question: str) -> tuple[float, float]:
    """Type a question, press Enter; seconds to the first streamed text and to the finished answer."""
    before = page.locator("#chat .message.bot, #chat [data-testid='bot']").count()
    page.locator("#question textarea").fill(question)
    pressed = time.perf_counter()
    page.locator("#question textarea").press("Enter")
    bot = page.locator("#chat .message.bot, #chat [data-testid='bot']")
    bot.nth(before).wait_for(timeout=120_000)
    page.wait_for_function(
        "n => { const m = document.querySelectorAll(\"#chat .message.bot, #chat [data-testid='bot']\");"
        " return m.length > n && m[n].innerText.trim().length > 0 && !m[n].innerText.startsWith('Preparing the documents')"
        " && !m[n].innerText.includes('Loading content'); }",
        arg=before, timeout=180_000)
    first = time.perf_counter() - pressed
    page.wait_for_function(  # the final answer's sources replace the placeholder shown while it streams
        "() => { const s = document.querySelector('#sources'); return s && !s.innerText.includes("
        "'Sources of the answer appear here') && (s.querySelector('details') || s.querySelector('.rag-refused')); }",
        timeout=180_000)
    return first, time.perf_counter() - pressed


def test_question_streams_and_shows_expandable_sources(browser, sample_url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
    page.goto(sample_url)
    page.wait_for_function("() => (document.querySelector('#status')?.innerText || '').includes('Ready')", timeout=900_000)
    first, total = _ask(page, "When were the first Guidelines formulated?")
    answer = page.locator("#chat .message.bot, #chat [data-testid='bot']").last.inner_text()
    assert "1978" in answer and "[" in answer
    source = page.locator("#sources details").first
    assert "1 Background to the Formulation of the Guidelines" in source.locator("summary").inner_text()
    assert not source.locator("blockquote").is_visible()
    source.locator("summary").click()
    assert source.locator("blockquote").is_visible()
    assert "1978" in source.locator("blockquote mark").first.inner_text()
    assert outside == []  # the page loads nothing from the internet (no fonts, no analytics)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    (ARTIFACTS / "browser-timing.json").write_text(json.dumps({"first_token_s": first, "answer_s": total}))
    page.close()


def _last_answer(page):
    return page.locator("#chat .message.bot, #chat [data-testid='bot']").last


def test_the_readmes_conversation_in_the_chat(browser, sample_url):
    """Typed into the chat as a new user would: the short answer leads in bold, the follow-up is
    read against it (the chat's own path, not the API's), and a question the sample does not
    cover gets a refusal in words, without a glyph that a plain Debian machine draws as a box."""
    page = _ready_page(browser, sample_url, 1100)
    ARTIFACTS.mkdir(exist_ok=True)
    _ask(page, "When were the first Guidelines formulated?")
    first = _last_answer(page)
    assert first.locator("strong").first.inner_text().strip() == "1978", first.inner_html()
    page.screenshot(path=str(ARTIFACTS / "readme-1-first.png"), full_page=True)
    _ask(page, "When were the next ones developed?")
    follow_up = _last_answer(page).inner_text()
    assert "1997" in follow_up, follow_up
    assert "Searched for:" in page.locator("#sources").inner_text()
    page.screenshot(path=str(ARTIFACTS / "readme-2-follow-up.png"), full_page=True)
    _ask(page, "What is the capital of France?")
    refusal = _last_answer(page).inner_text()
    assert refusal.startswith("Not found in the documents:") and "P(answerable)" not in refusal, refusal
    assert not any(ord(c) > 0x2FFF for c in refusal), refusal  # no emoji
    sources = page.locator("#sources").inner_text()
    assert "No source answers this question:" in sources and "P(answerable)" not in sources.split("Details")[0]
    page.screenshot(path=str(ARTIFACTS / "readme-3-refusal.png"), full_page=True)
    page.close()


HOSTILE = ("# Notes <img src=x onerror=alert('heading')>\n\n"
           "The harbour code word is <script>alert('script')</script> and the gate sign reads "
           "<img src=x onerror=alert('img')> in red letters.\n")


def test_document_markup_is_shown_as_text_and_never_runs(browser, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes <b onmouseover=alert(4)>x.md").write_text(HOSTILE)
    demo, state, url = start(tmp_path, [docs], generator="extractive")
    try:
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        page.wait_for_function("() => (document.querySelector('#status')?.innerText || '').includes('Ready')",
                               timeout=300_000)
        _ask(page, "What does the harbour gate sign read?")
        page.locator("#sources details summary").first.click()
        sources = page.locator("#sources").inner_text()
        answer = page.locator("#chat .message.bot, #chat [data-testid='bot']").last.inner_text()
        assert "<img src=x onerror=alert('img')>" in sources + answer
        assert "<b onmouseover=alert(4)>x.md" in page.locator("#documents").inner_text()
        assert page.locator("#sources img, #chat img[src='x'], #sources script, #sources b, #documents b").count() == 0
        page.wait_for_timeout(500)
        assert dialogs == []
        page.close()
    finally:
        demo.close()


def test_a_pdf_source_shows_its_page_with_the_sentence_marked(browser, tmp_path):
    from test_documents import laid_out_pdf

    docs = tmp_path / "docs"
    docs.mkdir()
    laid_out_pdf(docs / "quarterly.pdf", pages=5)
    demo, state, url = start(tmp_path, [docs], generator="extractive")
    try:
        page = _ready_page(browser, url, height=1000)
        _ask(page, "Why did revenue rise in quarter 3?")
        source = page.locator("#sources details").first
        assert "quarterly.pdf, page 3" in source.locator("summary").inner_text()
        source.locator("summary").click()
        picture = source.locator("img.rag-page")
        picture.wait_for(timeout=30_000)
        assert picture.evaluate("img => img.complete && img.naturalWidth > 400")
        assert "page 3 of quarterly.pdf" in picture.get_attribute("alt")
        assert "harbour department" in source.locator("blockquote mark").first.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "pdf-source.png"), full_page=True)
        page.close()
    finally:
        demo.close()


def test_an_upload_shows_its_progress_and_the_status_line_follows(browser, tmp_path):
    """A PDF upload greyed the document list for 10-15 s with its progress clipped out of sight,
    and the status line still counted the passages from before."""
    from eval.datasets import dataset_dir

    demo, state, url = start(tmp_path, [sample_document()], generator="extractive")
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_function("() => (document.querySelector('#status')?.innerText || '').includes('Ready')",
                               timeout=300_000)
        before = page.locator("#status").inner_text()
        page.evaluate("""() => { window.seen = []; window.overlaps = []; new MutationObserver(() => {
            const list = document.querySelector('#documents').getBoundingClientRect();
            for (const el of document.querySelectorAll('.progress-text, .meta-text, .eta-bar, .progress-level')) {
                if (el.offsetHeight === 0) continue;
                window.seen.push(el.innerText);
                const r = el.getBoundingClientRect();
                if (r.left < list.right && list.left < r.right && r.top < list.bottom && list.top < r.bottom)
                    window.overlaps.push(el.innerText || el.className); } }).observe(document.body,
            {subtree: true, childList: true, characterData: true}); }""")
        page.locator("#upload input[type=file]").set_input_files(str(dataset_dir("us_fed_agency_reports_2022") /
                                                                      "NARA2022.pdf"))
        page.wait_for_function("() => window.seen.some(t => t.includes('file'))", timeout=120_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "upload-progress.png"), full_page=True)
        page.wait_for_function("() => (document.querySelector('#documents')?.innerText || '').includes('NARA2022')",
                               timeout=300_000)
        page.wait_for_function(f"() => document.querySelector('#status').innerText !== {json.dumps(before)}",
                               timeout=60_000)
        seen = page.evaluate("() => window.seen")
        assert any("1 file" in text for text in seen), seen  # the build's own display, visible in the page
        overlaps = page.evaluate("() => window.overlaps")
        assert overlaps == [], overlaps  # drawn under the upload box, never over the document list
        after = page.locator("#status").inner_text()
        assert int(after.split("Ready: ")[1].split()[0]) > int(before.split("Ready: ")[1].split()[0])
        page.close()
    finally:
        demo.close()


def test_a_filing_question_shows_the_cell_its_document_and_the_row_marked(browser, tmp_path):
    from eval.datasets import dataset_dir

    demo, state, url = start(tmp_path, [dataset_dir("financebench_filings")], generator="extractive")
    try:
        page = _ready_page(browser, url, height=1100)
        _ask(page, "What was Ulta Beauty's net sales in the first quarter of fiscal 2023 (in millions)?")
        bot = page.locator("#chat .message.bot, #chat [data-testid='bot']").last
        assert bot.locator("strong").first.inner_text() == "$2,634.3 million (April 29, 2023)"
        assert "Documents: searched Ulta Beauty · earnings release · Q1 FY2023" in page.locator("#sources").inner_text()
        source = page.locator("#sources details").first
        assert "Ulta Beauty · earnings release · Q1 FY2023: ULTABEAUTY_2023Q1_EARNINGS.pdf" in source.inner_text()
        source.locator("summary").click()
        source.locator("img.rag-page").wait_for(timeout=30_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "filing-cell.png"), full_page=True)
        page.close()
    finally:
        demo.close()
