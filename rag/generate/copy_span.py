"""Copying a span: which token may come next when a model must copy words of a source text. Pure.

A small model asked for "the shortest phrase that answers" writes a wrong phrase as often as a
right one; asked to copy, and only allowed to copy, it must pick its answer among the source's
own words, so whatever it shows is stated by the source by construction. The model decides where
the span starts (its first token, at any word start) and where it ends (its end-of-turn token,
allowed at a word end); every token between is checked to continue the source.

Work is in bytes: byte-level BPE tokens split UTF-8 characters, and a token's bytes are what it
adds to the text.
"""
from __future__ import annotations

from dataclasses import dataclass

State = frozenset  # (start, end) byte offsets of the source the copied text may be; None: not started


def _is_word(byte: int) -> bool:
    return byte >= 0x80 or chr(byte).isalnum()


@dataclass(frozen=True)
class SpanSource:
    """A source text and the offsets where a copied span may start."""

    text: bytes
    starts: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> "SpanSource":
        """Whitespace collapsed to single spaces; a span starts where a word starts (after a space,
        bracket or quote), so it never begins inside a word.

        >>> SpanSource.of("In 1978,  the (first) plan").starts
        (0, 3, 9, 14, 21)
        """
        data = " ".join(text.split()).encode("utf-8")
        starts = tuple(i for i in range(len(data))
                       if _is_word(data[i]) and (i == 0 or not _is_word(data[i - 1]))
                       and (data[i] & 0xC0) != 0x80)
        return cls(data, starts)

    def advance(self, state: State | None, piece: bytes) -> State | None:
        """The state after copying `piece`; None when the piece does not continue the source.

        The first piece may carry the space a tokenizer glues to a word (" Prime"); a later piece
        without one may follow a space (word-level tokenizers keep no spaces).

        >>> s = SpanSource.of("signed by Prime Minister Kishi")
        >>> sorted(s.advance(None, b" Prime"))
        [(10, 15)]
        >>> s.text_of(s.advance(s.advance(None, b"Prime"), b" Minister"))
        'Prime Minister'
        >>> s.text_of(s.advance(s.advance(None, b"Prime"), b"Minister"))
        'Prime Minister'
        >>> s.advance(s.advance(None, b"Prime"), b"Kishi") is None
        True
        """
        if state is None:
            piece = piece.lstrip(b" ")
            found = frozenset((s, s + len(piece)) for s in self.starts if piece and self.text.startswith(piece, s))
            return found or None
        if not piece:
            return None
        found = set()
        for s, e in state:
            if self.text.startswith(piece, e):
                found.add((s, e + len(piece)))
            elif not piece.startswith(b" ") and self.text[e:e + 1] == b" " and self.text.startswith(piece, e + 1):
                found.add((s, e + 1 + len(piece)))
        return frozenset(found) or None

    def can_stop(self, state: State | None) -> bool:
        """A span may end where a word ends, not inside one.

        >>> s = SpanSource.of("in 1978.")
        >>> s.can_stop(s.advance(None, b"197")), s.can_stop(s.advance(None, b"1978"))
        (False, True)
        """
        return bool(state) and any(self._word_end(e) for _, e in state)

    def _word_end(self, e: int) -> bool:
        return e >= len(self.text) or not (_is_word(self.text[e]) and _is_word(self.text[e - 1]))

    def continuations(self, state: State | None, limit: int = 48) -> list[bytes]:
        """Source text after each position the span could continue from (for the tokenizer to split):
        the candidates a top-k of the model's logits may miss."""
        positions = self.starts if state is None else sorted({e for _, e in state})
        return [self.text[p: p + limit] for p in positions if p < len(self.text)]

    def text_of(self, state: State | None) -> str:
        """The copied span, as the source writes it, trimmed of the punctuation a phrase does not need.

        >>> s = SpanSource.of("formed in 1978.")
        >>> s.text_of(s.advance(s.advance(None, b" 1978"), b"."))
        '1978'
        """
        ends = sorted((s, e) for s, e in state or () if self._word_end(e))
        if not ends:
            return ""
        s, e = ends[0]
        return self.text[s:e].decode("utf-8", errors="ignore").strip().strip(".,;:!?\"'").strip()


def _byte_alphabet() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet: the printable character that stands for each byte."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


def vocabulary_bytes(tokenizer) -> list[bytes]:
    """Each token id's bytes: through the byte alphabet for byte-level BPE tokenizers, else its decoded text."""
    alphabet = _byte_alphabet()
    size = max(len(tokenizer), max(tokenizer.get_vocab().values()) + 1)
    out = [b""] * size
    for token, i in tokenizer.get_vocab().items():
        if all(c in alphabet for c in token):
            out[i] = bytes(alphabet[c] for c in token)
        else:
            out[i] = tokenizer.decode([i]).encode("utf-8")
    for i in tokenizer.all_special_ids:
        out[i] = b""
    return out
