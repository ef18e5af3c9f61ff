"""Each visitor's uploads in an index of their own, so one visitor cannot change another's answers.

A visitor's first upload copies the shared index (the documents given at start) and adds the
upload to the copy; later questions from that visitor search the copy. Copies are dropped when
the tab closes, when idle too long, or past a cap, with their uploaded files.

Past a cap, room is made from the same client address first (a client that opens many sessions
evicts only its own), then from visitors idle for a while; a visitor active in the last minutes is
never evicted for someone else: the newcomer is told to try later instead.
"""
from __future__ import annotations

import hashlib
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import UserError


@dataclass
class PrivateIndex:
    index_dir: Path
    uploads_dir: Path
    assistant: object = None  # rag.assistant.Assistant over index_dir, once the first upload is indexed
    last_used: float = 0.0
    client: str | None = None  # the address that opened it


@dataclass
class PrivateIndexes:
    """Per-visitor indexes under `root`; the visitor's session id is hashed before it names a folder."""

    root: Path
    max_visitors: int = 16
    idle_s: float = 3600.0
    max_per_client: int = 8
    active_s: float = 300.0  # used this recently: never evicted to make room for another client
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

    def open(self, session: str, shared_index: Path, client: str | None = None) -> PrivateIndex:
        """The visitor's index, made from a copy of the shared one on first use."""
        from rag.library import copy_index

        key = self.key(session)
        with self.lock:
            private = self.visitors.get(key)
            if private is None:
                self._make_room(client)
                folder = self.root / key
                shutil.rmtree(folder, ignore_errors=True)  # a leftover of an earlier run
                private = PrivateIndex(folder / "index", folder / "uploads", client=client)
                copy_index(shared_index, private.index_dir)
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

    def _make_room(self, client: str | None) -> None:
        """Room for one more visitor: idle ones go; then, past the client's share or the cap, the
        oldest not active lately (the client's own first); else the newcomer is refused."""
        now = self.clock()
        for key, private in list(self.visitors.items()):
            if now - private.last_used > self.idle_s:
                self._remove(key)
        quiet = lambda p: now - p.last_used > self.active_s
        owned = lambda: [k for k, p in self.visitors.items() if p.client == client]
        own_quiet = sorted((p.last_used, k) for k, p in self.visitors.items() if p.client == client and quiet(p))
        while own_quiet and (len(owned()) >= self.max_per_client or len(self.visitors) >= self.max_visitors):
            self._remove(own_quiet.pop(0)[1])
        if len(owned()) >= self.max_per_client:
            raise UserError(f"this address holds uploads for {self.max_per_client} visitors active in the last "
                            f"{self.active_s / 60:.0f} minutes; try the upload again later")
        others_quiet = sorted((p.last_used, k) for k, p in self.visitors.items() if quiet(p))
        while others_quiet and len(self.visitors) >= self.max_visitors:
            self._remove(others_quiet.pop(0)[1])
        if len(self.visitors) >= self.max_visitors:
            raise UserError(f"the server holds uploads for {self.max_visitors} visitors active in the last "
                            f"{self.active_s / 60:.0f} minutes; try the upload again later")
