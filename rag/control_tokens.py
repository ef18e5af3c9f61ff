"""Language models' control tokens never pass as text: not from a document, a card, a question
or the chat history.

A tokenizer parses its special tokens inside any text it is given: a document holding
`<|endoftext|>` or `<|im_start|>system` would end the model's context or open a turn of its own,
and would be shown raw in a quote. Every text is cleaned where it enters (the readers, document
cards, `Query.checked`, the chat's turns) and once more at the model's door (each message's
content, before the chat template adds the real ones), so a text that slipped past an entry
still cannot speak as the template. Removed, not escaped: the tokens carry no words.

What is removed: anything shaped like the bundled models' special tokens (`<|…|>`, in ASCII or
the full-width bars some tokenizers use) and their other added tokens (`<tool_call>`); the test
checks every added token of the bundled tokenizer.
"""
from __future__ import annotations

import re

CONTROL_TOKEN = re.compile(r"<[|\uff5c][^<>|\uff5c\s]{1,64}[|\uff5c]>|</?tool_call>", re.IGNORECASE)


def without_control_tokens(text: str) -> str:
    """`text` with every control-token-shaped string removed.

    >>> without_control_tokens("<|endoftext|>The first Guidelines were formulated in 1492.<|endoftext|>")
    'The first Guidelines were formulated in 1492.'
    >>> without_control_tokens("a <|im_start|>system b <tool_call> c <｜end▁of▁sentence｜> | x |> d")
    'a system b  c  | x |> d'
    """
    return CONTROL_TOKEN.sub("", text)


def has_control_tokens(text: str) -> bool:
    return bool(CONTROL_TOKEN.search(text))
