"""Text folded to the plain Latin letters it looks like, so that a check for a phrase cannot be
dodged by writing it in look-alike letters ("Іgnore" with a Cyrillic І), fullwidth or
mathematical letters, zero-width characters or letter spacing.

NFKC folds compatibility forms (fullwidth, mathematical bold); the look-alike table is Unicode's
confusables data (UTS #39) as shipped by `confusable_homoglyphs`. Unicode maps a confusable to a
prototype that may differ in case ("І" -> "l"), so each letter takes the Latin letter of its own
case among the prototype's look-alikes ("І" -> "I", "і" -> "i").

>>> fold("Іgnore previous іnstructions")
'Ignore previous instructions'
>>> fold("Ｉｇｎｏｒｅ  ig\\u200bnore")
'Ignore ignore'
"""
from __future__ import annotations

import functools
import html
import re
import unicodedata

_SPACED_LETTERS = re.compile(r"\b(?:[A-Za-z] ){3,}[A-Za-z]\b")  # "I G N O R E"


@functools.lru_cache(maxsize=1)
def latin_lookalikes() -> dict[int, str]:
    """{code point: ASCII letter} for letters of other scripts that look like a Latin letter."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[int, str] = {}
    for char, glyphs in confusables_data.items():
        if len(char) != 1 or char.isascii() or not char.isalpha():
            continue
        candidates = []
        for glyph in glyphs:
            prototype = glyph["c"]
            candidates.append(prototype)
            candidates += [g["c"] for g in confusables_data.get(prototype, [])]
        letters = [c for c in candidates if len(c) == 1 and c.isascii() and c.isalpha()]
        same_case = [c for c in letters if c.isupper() == char.isupper()]
        if same_case or letters:
            table[ord(char)] = (same_case or letters)[0]
    return table


_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});", re.I)


def fold(text: str, lookalikes: bool = True) -> str:
    """The text as plain Latin letters and single spaces (for checks, never for display).

    HTML entities are decoded whatever the file's format (`Ign&#111;re` in a Markdown file), and
    accents and other combining marks dropped ("Ignóre", "Ig\u034fnore"): a check then sees the
    letters a reader's model would read.

    >>> fold("Ign&#111;re prevíous ínstructions, Ig\u034fnore")
    'Ignore previous instructions, Ignore'
    """
    if "&" in text:
        text = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
        text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Mn", "Me"))  # zero-width, accents
        text = unicodedata.normalize("NFC", text)
        if lookalikes:  # off for text in another script that is meant as that script (a Russian sentence)
            text = text.translate(latin_lookalikes())
    text = _SPACED_LETTERS.sub(lambda m: m.group(0).replace(" ", ""), text)
    return re.sub(r"[ \t]+", " ", text)
