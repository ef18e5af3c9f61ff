"""Answering on Ray Serve: the retriever and the generator as N replicas behind the same chat.

Each replica loads the embedder and the model once and answers one request at a time
(`max_ongoing_requests=1`); Serve's router queues the rest and spreads them over the replicas.
A request names the index folder it searches by path, the shared one or a visitor's private
copy: replicas open it read-only and memory-mapped, and open it again between requests when its
live generation changed (a rebuild, an upload). On one machine the path is the local disk; on a
cluster it must be a path every node mounts. So a visitor's uploads are searched for that visitor
only, whichever replica answers, and nothing of theirs reaches another visitor's request.
"""
from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from rag.errors import UserError
from rag.index.ray_cluster import check_reachable

APP_NAME = "rag-answers"
MAX_OPEN_INDEXES = 24  # the shared index and the visitors' private ones a replica keeps open
RESULT_TIMEOUT_S = 900.0  # a rewrite or an answer that takes longer means the cluster is stuck


@dataclass(frozen=True)
class ServeOptions:
    """`address` None starts a local Ray with this machine's cores; "auto" or HOST:PORT joins one."""

    address: str | None = None
    replicas: int = 1
    threads: int = 1  # torch threads (and CPUs reserved) per replica


class AnswerReplica:
    """One replica: the models, and the pipelines of the indexes it was asked to search."""

    def __init__(self, settings, threads: int):
        import torch

        from rag import assemble

        torch.set_num_threads(threads)
        self.settings = settings
        self.embedder = assemble.load_embedder(settings.embedding_model)
        self.generator = assemble.load_generator(settings, self.embedder, log=lambda message: None)
        self.pipelines: OrderedDict[str, tuple[str, object]] = OrderedDict()

    def pipeline(self, index_dir: str):
        """The pipeline over `index_dir`'s live generation, opened again when it changed."""
        from rag import assemble
        from rag.index import store
        from rag.index.retrieval import Retriever

        live = store.live_generation(Path(index_dir)).name
        cached = self.pipelines.get(index_dir)
        if cached is None or cached[0] != live:
            pipeline = assemble.answer_pipeline(Retriever.open(Path(index_dir), self.embedder, self.settings.fusion),
                                                self.generator,
                                                assemble.answer_config(self.settings), self.settings.answerability,
                                                reader=self.settings.reader)
            self.pipelines[index_dir] = (live, pipeline)
            while len(self.pipelines) > MAX_OPEN_INDEXES:
                self.pipelines.popitem(last=False)
        self.pipelines.move_to_end(index_dir)
        return self.pipelines[index_dir][1]

    def standalone(self, index_dir: str, question: str, turns: list) -> str:
        return self.pipeline(index_dir).standalone(question, turns)

    def stream(self, index_dir: str, question: str, k: int, mode: str):
        """The answer's events (tokens, then the final answer), as the pipeline yields them."""
        yield from self.pipeline(index_dir).stream(question, k=k, mode=mode)

    def pid(self) -> int:
        return os.getpid()


def connect(address: str | None, namespace: str = "rag"):
    """Join the cluster at `address`, or start a local Ray; one clear line when that fails."""
    from rag.index.ray_cluster import ray_module, silenced_stderr, start_failure

    import logging

    ray = ray_module()
    logging.getLogger("ray.serve").setLevel(logging.WARNING)  # Serve's start-up chatter, not the user's business
    if address is not None:
        check_reachable(address)
    if not ray.is_initialized():
        try:
            with silenced_stderr():
                ray.init(address=address or "local", num_cpus=None if address else os.cpu_count(),
                         namespace=namespace, include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
        except Exception as exc:  # ConnectionError, RuntimeError, TimeoutError... from Ray
            raise UserError(start_failure(address, exc)) from exc
    return ray


def deploy(options: ServeOptions, settings):
    """Start (or replace) the answering replicas on the cluster; returns the handle to them."""
    from ray import serve

    connect(options.address)
    serve.start(proxy_location="Disabled")  # callers use handles; no HTTP server on the cluster
    deployment = serve.deployment(AnswerReplica, name="answers", num_replicas=options.replicas,
                                  max_ongoing_requests=1, health_check_period_s=2, health_check_timeout_s=30,
                                  ray_actor_options={"num_cpus": options.threads})
    return serve.run(deployment.bind(settings, options.threads), name=APP_NAME, route_prefix=None,
                     blocking=False)


def existing(address: str):
    """The handle to replicas another process deployed on the cluster at `address`."""
    from ray import serve

    connect(address)
    try:
        return serve.get_app_handle(APP_NAME)
    except Exception as exc:
        raise UserError(f"no answering replicas on the Ray cluster at {address} (start them with "
                        f"python app.py --serve ray --ray-address {address}): {exc.__class__.__name__}") from None


class RemoteAnswers:
    """The app's side: the same questions the local pipeline answers, sent to the replicas.

    A replica that dies before its first token is retried once on another; one that dies
    mid-answer ends the answer with a clear message rather than a page that never finishes."""

    def __init__(self, handle):
        self.handle = handle

    def _failure(self, exc: BaseException) -> UserError:
        return UserError(f"the answering replica stopped ({exc.__class__.__name__}); please ask again")

    def standalone(self, index_dir: Path, question: str, turns: list) -> str:
        return self._result(lambda: self.handle.standalone.remote(str(index_dir), question, turns))

    def _result(self, call):
        for attempt in (1, 2):
            try:
                return call().result(timeout_s=RESULT_TIMEOUT_S)
            except Exception as exc:
                if (refused := unwrap_user_error(exc)) is not None:
                    raise refused from None
                if isinstance(exc, TimeoutError) or attempt == 2 or not _replica_failure(exc):
                    raise self._failure(exc) from None
                time.sleep(1.0)

    def stream(self, index_dir: Path, question: str, k: int, mode: str) -> Iterator:
        for attempt in (1, 2):
            produced = False
            try:
                for event in self.handle.options(stream=True).stream.remote(str(index_dir), question, k, mode):
                    produced = True
                    yield event
                return
            except Exception as exc:
                if (refused := unwrap_user_error(exc)) is not None:
                    raise refused from None
                if produced or attempt == 2 or not _replica_failure(exc):
                    raise self._failure(exc) from None
                time.sleep(1.0)


def _replica_failure(exc: BaseException) -> bool:
    """A replica or its actor died (retry elsewhere), as opposed to an error in the request."""
    from ray import exceptions

    return isinstance(exc, (exceptions.RayActorError, exceptions.ActorDiedError, exceptions.ActorUnavailableError))


def unwrap_user_error(exc: BaseException) -> UserError | None:
    """A UserError raised inside a replica arrives wrapped in a RayTaskError: the original, with
    its one-line message."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, UserError):
        return UserError(str(cause))
    return exc if type(exc) is UserError else None


def watch_cluster(address: str | None, every_s: float = 5.0, misses: int = 3) -> None:
    """When the cluster at `address` stops answering, say so in one line and end the process with
    a non-zero status, rather than leave visitors' pages waiting on replicas that are gone."""
    import sys
    import threading


    if address in (None, "auto"):
        return  # a local Ray lives and dies with this process; "auto" names no address to probe

    def watch():
        failed = 0
        while True:
            time.sleep(every_s)
            try:
                check_reachable(address, timeout_s=every_s)
                failed = 0
            except UserError:
                failed += 1
                if failed >= misses:
                    print(f"app: error: the Ray cluster at {address} is gone", file=sys.stderr, flush=True)
                    os._exit(1)

    threading.Thread(target=watch, name="ray-cluster-watch", daemon=True).start()


def replicas(serve, settings, progress=lambda message: None) -> tuple["RemoteAnswers", int]:
    """(the client of the answering replicas, how many answer at once): `serve` a `ServeOptions`
    starts them; a string joins those another process started on the cluster at that address."""
    if isinstance(serve, str):
        return RemoteAnswers(existing(serve)), replica_count()
    progress(f"starting {serve.replicas} answering replica(s) on Ray Serve…")
    return RemoteAnswers(deploy(serve, settings)), serve.replicas


def replica_count() -> int:
    """Running answering replicas (at least 1): how many questions an evaluation sends at once."""
    from ray import serve

    try:
        deployment = serve.status().applications[APP_NAME].deployments["answers"]
        return max(1, int(deployment.replica_states.get("RUNNING", 1)))
    except (KeyError, AttributeError):
        return 1
