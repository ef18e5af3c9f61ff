"""Shared fixtures: the real bundled embedder and a sample index, each built once per session."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Nothing a test does touches the user's own cache or indexes."""
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "rag-home"))


@pytest.fixture
def sigint_reaches_children():
    """Children started during the test get SIGINT (Ctrl-C) delivered, as from a terminal.

    A runner may start the suite with SIGINT ignored (a background job of a non-interactive shell
    does), and an ignored signal stays ignored across exec: the interrupted build would then run to
    its end. A handled signal is reset to its default at exec, so handling it here is enough."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def embedder():
    from rag.assemble import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder) -> Path:
    from rag.index.indexer import build_index
    from rag.paths import sample_document

    index_dir = tmp_path_factory.mktemp("sample") / "index"
    build_index([sample_document()], index_dir, embedder, progress=False)
    return index_dir


@pytest.fixture(scope="session")
def sample_retriever(sample_index, embedder):
    from rag.index.retrieval import Retriever

    return Retriever.open(sample_index, embedder)


@pytest.fixture(scope="session")
def tenq_index(tmp_path_factory, embedder) -> Path:
    """Five companies' 10-Qs (eval/data/tenq_lookalikes), indexed once."""
    from eval.datasets import dataset_dir
    from rag.index.indexer import build_index

    index = tmp_path_factory.mktemp("tenq") / "index"
    build_index(sorted(dataset_dir("tenq_lookalikes").glob("*.pdf")), index, embedder, progress=False)
    return index


@pytest.fixture(scope="session")
def tenq_pipeline(tenq_index, embedder):
    """The extractive answerer over the 10-Qs: what is searched and quoted, without the model."""
    from rag.answer.pipeline import AnswerConfig
    from rag.assemble import answer_pipeline, load_generator
    from rag.index.retrieval import Retriever
    from rag.settings import Settings

    generator = load_generator(Settings(generator="extractive"), embedder)
    return answer_pipeline(Retriever.open(tenq_index, embedder), generator, AnswerConfig())


@pytest.fixture(scope="session")
def model(embedder):
    """The real default language model, loaded once for every test that needs it."""
    from rag.assemble import load_generator
    from rag.settings import Settings

    return load_generator(Settings(), embedder, log=lambda m: None)


TINY_WORDS = ["<unk>", "<eos>", "system", "user", "assistant", ":", "the", "documents", "do", "not", "say", ".", "1978",
              "guidelines", "were", "formulated", "in", "[", "]", "1", "2"]


def tiny_model_and_tokenizer():
    """A randomly initialised Qwen2 with a word-level tokenizer and a chat template: plumbing only."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    vocab = {w: i for i, w in enumerate(TINY_WORDS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", eos_token="<eos>", pad_token="<eos>")
    tokenizer.chat_template = ("{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} {% endfor %}"
                               "{% if add_generation_prompt %}assistant : {% endif %}")
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(TINY_WORDS), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512)
    return Qwen2ForCausalLM(config).eval(), tokenizer


class OnATerminal:
    """A command whose stderr is a terminal (a pty), as a user's: what it shows there only (the
    progress display) can be waited for, and read back after it ends."""

    def __init__(self, argv: list[str]):
        import pty
        import subprocess

        self.leader, follower = pty.openpty()
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        self.shown = ""

    def _read(self, wait: float) -> None:
        import select

        while select.select([self.leader], [], [], wait)[0]:
            try:
                chunk = os.read(self.leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.shown += chunk.decode("utf-8", "replace")
            wait = 0.05

    def wait_for(self, text: str, timeout: float) -> bool:
        """True once `text` was shown while the command still runs."""
        import time

        deadline = time.time() + timeout
        while text not in self.shown and time.time() < deadline and self.proc.poll() is None:
            self._read(0.2)
        return self.proc.poll() is None

    def finish(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        self._read(0.5)
        os.close(self.leader)
        return code
