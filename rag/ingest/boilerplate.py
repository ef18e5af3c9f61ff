"""Text a filing carries on every copy that answers no question about it: signature blocks,
officers' certifications, tables of contents, forward-looking-statement warnings, cover-page
check boxes, and rows of numbers with no label.

Such passages are found by search all the same (a signature block names the company, the period
and "Chief Financial Officer"; a table of contents names every statement), and a quote from one
reads as an answer while saying nothing ("/s/ Alice L. Jolla … Chief Accounting Officer"). Each
chunk is marked with its kind at indexing (`Chunk.boilerplate`), and the answer never quotes a
sentence of a marked chunk (`quotable`). The passages stay searchable and shown as sources:
only the quote is refused.

Pure: text in, a kind out.
"""
from __future__ import annotations

import re

# kind, what marks it (any one); the first kind that matches wins
_MARKS = [
    ("certification", r"\bI have reviewed this (?:quarterly|annual|transition) report\b|\bcertify,? (?:that|pursuant)\b"
                      r"|certifying officers?\b|registrant[’']s (?:disclosure controls|internal control over financial reporting)"
                      r"|Section (?:302|906) of the Sarbanes-Oxley|\bcertifications? pursuant to\b|\bexhibit 3[12]\.\d\b"
                      r"|18 U\.\s?S\.\s?C\.\s+Section 1350"),
    ("signature", r"/s/|duly caused this (?:report|amendment) to be signed|^\s*SIGNATURES?\s*$"
                  r"|\((?:principal|chief) (?:executive|financial|accounting) officer\)|\bduly authorized officer\b"),
    ("contents", ""),  # two lines of a table of contents or more (`_contents_rows`)
    ("cover", r"\bindicate by (?:a )?check mark\b|\(exact name of registrant|securities registered pursuant to section 12"
              r"|\bI\.R\.S\. Employer\b|address of principal executive offices|telephone number, including area code"
              r"|(?:quarterly|annual|transition) report pursuant to section 13 or 15\(d\)|for the transition period from"
              r"|\bcommission file number\b|securities and exchange commission|large accelerated filer|smaller reporting company"
              r"|emerging growth company|\bshell company\b|washington, d\.\s?c\.\s+20549|^\W*(?:\(mark one\)\W*)?for the (?:quarterly period|fiscal year) ended\b"),
]
_FORWARD = re.compile(r"forward-looking statements?", re.IGNORECASE)
_FORWARD_MARKS = re.compile(r"Private Securities Litigation Reform Act|safe harbor|actual results (?:could|may|might|to)"
                            r"[^.]{0,40}differ materially|differ materially from|speak only as of|words such as"
                            r"|undue reliance|cautionary statement", re.IGNORECASE)
KINDS = ("signature", "certification", "contents", "forward-looking", "cover")


def boilerplate_kind(text: str) -> str:
    """The kind of boilerplate a chunk is, or "" for text that may answer a question.

    >>> boilerplate_kind("By: /s/ C. Douglas McMillon President and Chief Executive Officer")
    'signature'
    >>> boilerplate_kind("1. I have reviewed this Quarterly Report on Form 10-Q of Walmart Inc.")
    'certification'
    >>> boilerplate_kind("These forward-looking statements speak only as of the date of this Form 10-Q.")
    'forward-looking'
    >>> boilerplate_kind("Net sales increased 7.6% to $151.0 billion, driven by grocery."), boilerplate_kind("")
    ('', '')
    """
    for kind, pattern in _MARKS:
        if _contents_rows(text) >= 2 if kind == "contents" else re.search(pattern, text, re.IGNORECASE | re.MULTILINE):
            return kind
    if _FORWARD.search(text) and _FORWARD_MARKS.search(text) or len(_FORWARD_MARKS.findall(text)) >= 2:
        return "forward-looking"
    return ""


def _contents_rows(text: str) -> int:
    """Lines of a table of contents: "Item 2. Management's Discussion … 24" or a row that points
    to a page ("… — Page …: 79")."""
    return len(re.findall(r"(?:^|\n)[^\n]{0,80}?\bitem\s+\d+[A-C]?\.?[^\n]{0,160}?\s\d{1,3}\s*\|?\s*(?=\n|$)"
                          r"|table of contents[^\n]{0,300}\bpage\b[^\n]{0,400}?:\s*\d{1,3}\b", text, re.IGNORECASE))


def _cover_sentence(sentence: str) -> bool:
    return bool(re.search(_MARKS[3][1], sentence, re.IGNORECASE))


def unlabeled_numbers(sentence: str) -> bool:
    """A row of numbers that says not what they are: "| 9,583 | 10,329 | 19,050 |".

    >>> unlabeled_numbers("| 9,583 | 10,329 | 19,050 |"), unlabeled_numbers("Revenue | 9,583 | 10,329")
    (True, False)
    """
    return len(re.findall(r"\d[\d,.]*", sentence)) >= 2 and not re.search(r"[A-Za-z]{3,}", sentence)


_SIGNPOST = re.compile(
    r"\b(?:is|are|will be|was|were)\s+(?:further\s+|also\s+)?(?:discussed|described|covered|presented|explained"
    r"|outlined|addressed|examined|treated|detailed)\s+(?:below|above|later|hereafter|elsewhere"
    r"|in (?:the )?(?:following|next|previous|preceding|later|this|that|the)?\s*(?:sections?|chapters?|parts?|appendix"
    r"|annex|report|document|note|paragraphs?|pages?|text)\b)", re.IGNORECASE)


_PLACE_ONLY = re.compile(r"(?:\s*(?:of|in|on|at|and|this|the|that|report|document|note|sections?|chapters?|parts?|pages?"
                         r"|items?|appendix|annex|below|above|later|[IVX]+|[A-Z]?[\d.]+[A-Z]?(?:\s*[-–]\s*[\d.]+)?|[(),\[\]]))*\s*[.:]?\s*",
                         re.IGNORECASE)


def signpost(sentence: str) -> bool:
    """A sentence that says only where its subject is treated ("The first Guidelines are
    discussed below", "Our approach is described in Section 4"): it holds the question's words
    and no answer, so it is never quoted as one (an overview or a reader's note beside a report
    would otherwise be the best-matching sentence). The words of a signpost with content of its
    own after them ("…, discussed below, rose 5% in 2022") do not make the sentence a signpost.

    >>> signpost("The first Guidelines for Japan-U.S. Defense Cooperation are discussed below.")
    True
    >>> signpost("The methods are described in the following section.")
    True
    >>> signpost("The 1978 Guidelines were formulated with a focus on an armed attack on Japan.")
    False
    >>> signpost("Revenue, discussed below, rose 5% in 2022 to $4.1 billion.")
    False
    >>> signpost("These risks are discussed in the following section, and revenue fell 3%.")
    False
    """
    found = _SIGNPOST.search(sentence)
    return bool(found) and bool(_PLACE_ONLY.fullmatch(sentence[found.end():]))


def quotable(sentence: str, kind: str) -> bool:
    """Whether a sentence of a chunk of that boilerplate kind may be quoted as an answer: never
    from a signature, certification, contents or forward-looking chunk; from a cover, only a
    sentence that is not itself cover boilerplate ("As of July 21, 2023, 4,xxx shares were
    outstanding" is an answer); never a row of unlabeled numbers nor a signpost (`signpost`).

    >>> quotable("Indicate by check mark whether the registrant is a shell company.", "cover")
    False
    >>> quotable("As of April 28, 2023, there were 2,692,193,413 shares of common stock outstanding.", "cover")
    True
    >>> quotable("/s/ John David Rainey", "signature"), quotable("| 274 | 306 |", "")
    (False, False)
    """
    if unlabeled_numbers(sentence) or signpost(sentence):
        return False
    if kind == "cover":
        return not _cover_sentence(sentence)
    return kind not in KINDS
