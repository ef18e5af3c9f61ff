"""The chat's Markdown and the sources' HTML. Every piece of document text, file name and model
output is escaped: a document is data and must never become markup or script in the page, nor
Markdown that the chat renders (an image there is a request to any server the document names)."""
from __future__ import annotations

import re
from html import escape
from pathlib import Path

from rag.records import Answer
from rag.render import refusal_in_words, source_label

_INLINE_MARKUP = frozenset("\\`*_{}[]()<>&!|~$^@\"'")  # links, images, emphasis, HTML, maths, autolinks
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(:)(?=//)|(?<=www)(\.)")  # http://… and www.… become links
_LINE_START = re.compile(r"(?m)^([ \t]*)([#>+=*-]|\d+[.)])")  # headings, quotes, lists, rules


def markdown_literal(text: str) -> str:
    """Text that a Markdown renderer shows as it is: every character that could open markup
    (links, images, emphasis, HTML, autolinks, maths, line-start blocks) becomes a numeric
    character reference, which CommonMark shows as the character and never reads as syntax.

    >>> markdown_literal("![x](http://a.b/c.png) <b> www.x.org")
    '&#33;&#91;x&#93;&#40;http&#58;//a.b/c.png&#41; &#60;b&#62; www&#46;x.org'
    >>> markdown_literal("# Title")
    '&#35; Title'
    """
    text = "".join(f"&#{ord(c)};" if c in _INLINE_MARKUP else c for c in text)
    text = _AUTOLINK.sub(lambda m: f"&#{ord(m.group(0))};", text)
    return _LINE_START.sub(lambda m: m.group(1) + "".join(f"&#{ord(c)};" for c in m.group(2)), text)


NOT_FOUND = "Not found in the documents"  # a chat refusal starts with it (conversation reads it back)


def says_why_itself(answer: Answer) -> bool:
    """Whether a refusal's text is already its reason in a reader's words: a period the documents
    do not hold, two readings of a number that disagree ("Found 10,329 in the passage quoted, but
    the income statement's Revenue ... is $9,583"), a metric whose input the statements lack. Such
    a text is shown as it is; the generic "not found" would tell the reader something false."""
    text, reason = answer.text.strip().rstrip(".").lower(), (answer.refusal_reason or "").strip().rstrip(".").lower()
    return bool(answer.scope and answer.text == answer.scope or reason and text == reason)


def answer_markdown(answer: Answer) -> str:
    """Chat text: sentences with their [n] markers, unsupported ones visibly flagged; literal.

    No emoji: a plain Debian machine has no font for them, and they showed as empty boxes."""
    if answer.refused:
        if says_why_itself(answer):
            return markdown_literal(answer.text)
        return f"{NOT_FOUND}: {markdown_literal(refusal_in_words(answer.refusal_reason))}."
    parts = []
    for s in answer.sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        text = markdown_literal(s.text) + (f" {marks}" if marks else "")
        parts.append(text if s.supported else f"{text} *(not supported by the sources)*")
    lead = f"**{markdown_literal(answer.short_answer)}**\n\n" if answer.short_answer else ""
    formula = f"\n\nComputed: {markdown_literal(answer.formula)}" if answer.formula else ""
    confidence = f"\n\n*({answer.confidence})*" if answer.confidence else ""
    return lead + " ".join(parts) + formula + confidence


def _highlight(text: str, quotes: list[str]) -> str:
    """Escape the passage and wrap the cited sentences in <mark>."""
    spans = sorted({(text.find(q), len(q)) for q in quotes if q and text.find(q) >= 0})
    out, pos = [], 0
    for start, length in spans:
        if start < pos:
            continue
        out += [escape(text[pos:start]), "<mark>", escape(text[start:start + length]), "</mark>"]
        pos = start + length
    out.append(escape(text[pos:]))
    return "".join(out)


def page_picture(passage, quotes: list[str]) -> str:
    """A PDF source's cited page as an inline picture with the sentence marked; "" for other files."""
    import base64

    from app.web.pages import render_cited_page

    chunk = passage.chunk
    source = Path(chunk.source)
    if source.suffix.lower() != ".pdf" or not chunk.page or not source.is_file():
        return ""
    picture = render_cited_page(source, chunk.page, next((q for q in quotes if q), ""))
    if picture is None:
        return ""
    alt = escape(f"page {chunk.page} of {source.name}, the cited sentence highlighted")
    return (f"<img class='rag-page' alt='{alt}' title='{alt}' "
            f"src='data:image/jpeg;base64,{base64.b64encode(picture).decode('ascii')}'>")


def sources_html(answer: Answer | None, rewritten: str | None = None) -> str:
    """Numbered sources, each expandable to its passage with the cited sentence highlighted."""
    if answer is None:
        return "<div class='rag-sources'><p class='rag-muted'>Sources of the answer appear here.</p></div>"
    parts = ["<div class='rag-sources'>"]
    if rewritten and rewritten != answer.question:
        parts.append(f"<p class='rag-rewritten'>Searched for: <q>{escape(rewritten)}</q></p>")
    if answer.scope and (not answer.refused or answer.scope != answer.text):
        parts.append(f"<p class='rag-scope'>Documents: {escape(answer.scope)}</p>")
    if answer.refused:
        why = answer.text if says_why_itself(answer) else (f"No source answers this question: "
                                                           f"{refusal_in_words(answer.refusal_reason)}.")
        parts.append(f"<p class='rag-refused'>{escape(why)}</p>"
                     f"<details class='rag-why'><summary>Details</summary><p class='rag-muted'>"
                     f"{escape(answer.refusal_reason)}</p></details>")
    for c in answer.cited:
        quotes = [s.quotes.get(c.n, "") for s in answer.sentences if c.n in s.citations]
        parts.append(
            f"<details class='rag-source'><summary><strong>[{c.n}]</strong> {escape(source_label(c.passage))}"
            f" <span class='rag-muted'>(support {c.support:.2f})</span></summary>{page_picture(c.passage, quotes)}"
            f"<blockquote>{_highlight(c.passage.chunk.text, quotes)}</blockquote></details>"
        )
    for p in answer.retrieved:
        if p.chunk.chunk_id in answer.flagged:
            parts.append(
                f"<details class='rag-source rag-flagged'><summary>Set aside: this passage addresses the "
                f"assistant (<q>{escape(answer.flagged[p.chunk.chunk_id])}</q>) — {escape(source_label(p))}"
                f"</summary><blockquote>{escape(p.chunk.text)}</blockquote></details>")
    parts.append("</div>")
    return "".join(parts)
