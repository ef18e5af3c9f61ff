"""Each visitor's uploads in an index of their own, so one visitor cannot change another's answers.

A visitor's first upload copies the shared index (the documents given at start) and adds the
upload to the copy; later questions from that visitor search the copy. Copies are dropped when
the tab closes, when idle too long, or oldest first past a cap, with their uploaded files.
"""
from __future__ import annotations

import hashlib
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class PrivateIndex:
    index_dir: Path
    uploads_dir: Path
    pipeline: object = None
    last_used: float = 0.0


@dataclass
class PrivateIndexes:
    """Per-visitor indexes under `root`; the visitor's session id is hashed before it names a folder."""

    root: Path
    max_visitors: int = 16
    idle_s: float = 3600.0
    clock: object = time.monotonic
    visitors: dict[str, PrivateIndex] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def key(session: str) -> str:
        return hashlib.sha256(session.encode("utf-8", "replace")).hexdigest()[:20]

    def get(self, session: str | None) -> PrivateIndex | None:
        with self.lock:
            private = self.visitors.get(self.key(session)) if session else None
            if private is not None:
                private.last_used = self.clock()
            return private

    def open(self, session: str, shared_index: Path) -> PrivateIndex:
        """The visitor's index, made from a copy of the shared one on first use."""
        from rag.index import store

        key = self.key(session)
        with self.lock:
            self._evict(keep=key)
            private = self.visitors.get(key)
            if private is None:
                folder = self.root / key
                shutil.rmtree(folder, ignore_errors=True)  # a leftover of an earlier run
                private = PrivateIndex(folder / "index", folder / "uploads")
                store.copy_live(shared_index, private.index_dir)
                private.uploads_dir.mkdir(parents=True, exist_ok=True)
                self.visitors[key] = private
            private.last_used = self.clock()
            return private

    def drop(self, session: str | None) -> None:
        if not session:
            return
        with self.lock:
            self._remove(self.key(session))

    def _remove(self, key: str) -> None:
        private = self.visitors.pop(key, None)
        if private is not None:
            shutil.rmtree(private.index_dir.parent, ignore_errors=True)

    def _evict(self, keep: str) -> None:
        now = self.clock()
        for key, private in list(self.visitors.items()):
            if key != keep and now - private.last_used > self.idle_s:
                self._remove(key)
        others = sorted((p.last_used, k) for k, p in self.visitors.items() if k != keep)
        room = self.max_visitors - (keep not in self.visitors)  # a new visitor needs a place
        while others and len(self.visitors) > room:
            self._remove(others.pop(0)[1])
