"""The Ray engine: reading and chunking as Ray tasks, embedding as Ray Data `map_batches` on an
actor pool (one model per actor), results streamed back to the driver, which writes the index.

Ray is an optional extra (`pip install -e '.[ray]'`). Every node needs this package installed
(the same version), since tasks and actors import `rag` and load the embedder by its name.
Ray restarts an actor that dies and retries its batch, so a lost worker costs time, not chunks.
"""
from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from rag.errors import UserError
from rag.index.engines import FileChunks, Progress, read_one
from rag.index.ray_cluster import check_reachable, ray_module, silenced_stderr, start_failure
from rag.ingest.chunking import ChunkerConfig

EMBED_BATCH_ROWS = 128  # rows per actor call: the local engine's group size (16 x 8), so batches pad alike
FILES_PER_TASK_MAX = 32


@functools.lru_cache(maxsize=2)
def _worker_embedder(model: str):
    """One embedder per worker process and model (tasks reuse worker processes)."""
    from embeddings import EmbedderConfig, load_embedder

    return load_embedder(EmbedderConfig(model=model))


def _read_files(paths: list[str], model: str, config: ChunkerConfig) -> list[FileChunks]:
    count_tokens = _worker_embedder(model).count_tokens
    return [read_one(Path(p), count_tokens, config) for p in paths]


class EmbedActor:
    """Holds one model; called with batches of {"row", "text"}, returns {"row", "vector"}."""

    def __init__(self, model: str, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.embedder = _worker_embedder(model)
        if os.environ.get("RAG_RAY_ACTOR_PIDS"):  # tests find the actors to kill here
            with open(os.environ["RAG_RAY_ACTOR_PIDS"], "a") as fh:
                fh.write(f"{os.getpid()}\n")

    def __call__(self, batch: dict) -> dict:
        # the texts already carry the passage prefix: embed_batch, not embed_passages
        texts = [str(t) for t in batch["text"]]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # as embed_passages: similar lengths pad alike
        vectors = np.zeros((len(texts), self.embedder.dimension), dtype=np.float32)
        vectors[order] = self.embedder.embed_batch([texts[i] for i in order])
        return {"row": np.asarray(batch["row"]), "vector": vectors}


class RayEngine:
    """Starts a new local Ray with this machine's cores, or joins the cluster at `address`.

    Without an address it never joins a cluster that happens to run here (nor a stale record of
    one a killed run left in /tmp/ray): `--ray-address auto` does that.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None):
        self.ray = ray_module()
        self._started = False
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # the product never phones home
        # Ray's own chatter (auth mode, execution summaries, its C++ notice about actor arguments)
        # is not the user's business; failures still arrive as exceptions.
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.ERROR)
        if address is not None:
            check_reachable(address)
        if not self.ray.is_initialized():
            try:
                with silenced_stderr():  # the C++ core's line about its log level; errors still raise
                    self.ray.init(address=address or "local", num_cpus=None if address else os.cpu_count(),
                                  include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                                  runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false",
                                                            "RAY_USAGE_STATS_ENABLED": "0"}})
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UserError(start_failure(address, exc)) from exc
            self._started = True
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, min(workers or cpus, cpus))
        from ray.data import DataContext

        context = DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)

    def chunk_files(self, files: list[Path], config: ChunkerConfig, embedder) -> Iterator[FileChunks]:
        if not files:
            return
        ray = self.ray
        read = ray.remote(num_cpus=1, max_retries=3)(_read_files)
        per_task = max(1, min(FILES_PER_TASK_MAX, len(files) // (self.workers * 4) or 1))
        pending = [read.remote([str(p) for p in files[i:i + per_task]], embedder.name, config)
                   for i in range(0, len(files), per_task)]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(done[0])

    def embed(self, texts: list[str], embedder, progress: Progress | None = None) -> np.ndarray:
        vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
        if not texts:
            return vectors
        prefix = embedder.passage_prefix
        items = self.ray.data.from_items([{"row": i, "text": prefix + t} for i, t in enumerate(texts)])
        embedded = items.map_batches(EmbedActor, batch_size=EMBED_BATCH_ROWS, batch_format="numpy",
                                     fn_constructor_kwargs={"model": embedder.name, "threads": 1},
                                     compute=self.ray.data.ActorPoolStrategy(size=self.workers), num_cpus=1)
        for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
            vectors[batch["row"]] = batch["vector"]
            if progress:
                progress(len(batch["row"]))
        return vectors

    def close(self) -> None:
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
