"""What every session of the app shares: its configuration, the door to the documents (an
`Assistant`, swapped for a visitor's own once they upload), and whether it is ready yet."""
from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from app.web.sessions import PrivateIndexes
from rag.errors import UserError
from rag.settings import Settings


@dataclass(frozen=True)
class AppConfig:
    docs: list[Path]
    index: Path
    settings: Settings = Settings()
    shared_uploads: bool = False  # True: an upload joins the shared index that every visitor searches
    serve: object = None  # rag.serving.ServeOptions: answers come from Ray Serve replicas, not this process


@dataclass
class AppState:
    """The shared assistant and readiness. A visitor's uploads go to an index of their own
    (`private`) unless uploads are shared."""

    config: AppConfig
    assistant: object = None  # rag.assistant.Assistant (ServedAssistant under --serve)
    private: PrivateIndexes = None
    status: str = "Preparing…"
    error: str | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    index_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        if self.private is None:
            self.private = PrivateIndexes(self.config.index.parent / f"{self.config.index.name}-visitors")

    def assistant_for(self, session: str | None):
        """The visitor's own assistant once they uploaded something; the shared one otherwise."""
        private = self.private.get(session)
        return private.assistant if private is not None and private.assistant is not None else self.assistant

    def log(self, message: str) -> None:
        self.status = message
        print(message, file=sys.stderr, flush=True)

    def prepare(self) -> None:
        """Index the documents and load the models; runs in a background thread at start."""
        try:
            self.assistant = self._open()
            self.log(self.ready_line())
        except UserError as exc:
            self.error = str(exc)
            self.log(f"Error: {exc}")
        except Exception as exc:  # shown in the page; the traceback goes to the terminal
            import traceback

            traceback.print_exc()
            self.error = f"{exc.__class__.__name__}: {exc}"
            self.log(f"Error while preparing: {self.error}")
        finally:
            self.ready.set()

    def _open(self):
        from rag.assemble import open_assistant

        config, progress = self.config, lambda step: self.log(f"Preparing: {step}")
        remote, replicas = None, 0
        if config.serve is not None:
            from rag import serving

            remote, replicas = serving.replicas(config.serve, config.settings, progress)
        return open_assistant(config.settings, config.index, self.log, docs=config.docs, remote=remote,
                              replicas=replicas, progress=progress)

    def ready_line(self, session: str | None = None) -> str:
        """The status line for a visitor: what their questions search."""
        return self.status if self.assistant is None else self.assistant_for(session).status().line()

    def documents_markdown(self, session: str | None = None) -> str:
        if self.assistant is None:
            return "*(indexing…)*"
        from app.render import markdown_literal

        return "\n".join(f"- {markdown_literal(Path(d.path).name)} ({d.passages} passages)"
                         for d in self.assistant_for(session).documents())

    def private_index_for(self, session: str | None, client: str | None = None):
        """The visitor's own index for an upload; None when uploads are shared by everyone.

        A request with no session (a direct call that skips the page and the queue) is refused
        rather than treated as shared: only `--docs` and `--shared-uploads` reach every visitor.
        """
        if self.config.shared_uploads:
            return None
        if not session:
            raise UserError("an upload needs a visitor's session (open the page, or use gradio_client)")
        return self.private.open(session, self.config.index, client)

    def uploads_folder(self, session: str | None, client: str | None = None) -> Path:
        private = self.private_index_for(session, client)
        if private is not None:
            return private.uploads_dir
        folder = self.config.index.parent / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def add_documents(self, paths: list[Path], session: str | None = None, progress: bool = False) -> str:
        """Index uploads live; a visitor's assistant is theirs only once their index is complete."""
        warnings: list[str] = []
        private = self.private_index_for(session)
        with self.index_lock:
            if private is None:
                report = self.assistant.add(paths, progress, warnings.append)
            else:
                assistant = private.assistant or self.assistant.over(private.index_dir)
                report = assistant.add(paths, progress, warnings.append)
                private.assistant = assistant
        lines = [f"Indexed: {len(report.files_added)} added, {len(report.files_updated)} updated, "
                 f"{report.chunks_total} passages in all."]

        def without_server_paths(message: str) -> str:  # a visitor is told of their file, not of our disk
            for path in paths:
                message = message.replace(str(path.resolve()), path.name).replace(str(path), path.name)
            return message

        return "\n".join(lines + [f"Warning: {without_server_paths(w)}" for w in warnings])
