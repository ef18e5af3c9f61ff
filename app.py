"""The chat app: `python app.py` serves a streaming chat over the bundled sample (or --docs).

The page comes up at once; the index and the model are prepared in a background thread while
the page says so. One model is shared by every user; generation goes through Gradio's queue.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # never phone home
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gradio as gr  # noqa: E402  (after the settings above; handlers' gr.Request hints resolve here)

from rag.errors import UserError  # noqa: E402
from rag.web.sessions import PrivateIndexes  # noqa: E402
from rag.settings import MODES, Parser, Settings, add_settings_arguments  # noqa: E402

from rag.web.uploads import (MAX_UPLOAD_MB, UPLOAD_TYPES, refusal, unsuitable, upload_component,  # noqa: E402
                             uploaded_file)

CSS = """
.rag-sources details { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 4px 8px; margin: 4px 0; }
.rag-sources summary { cursor: pointer; }
.rag-sources blockquote { white-space: pre-wrap; margin: 6px 0; }
.rag-sources mark { background: #fde68a; }
.rag-muted { opacity: 0.7; }
.rag-sources .rag-flagged { border-color: #f59e0b; }
.rag-sources img.rag-page { max-width: 100%; border: 1px solid var(--border-color-primary); margin: 6px 0; }
.rag-refused { font-style: italic; }
#upload-status { min-height: 6em; }
#upload-status [data-testid='status-tracker'] { flex-direction: column; gap: 6px; }
#upload-status .progress-text { position: static; }  /* the file count on its own line, not over the bar */
"""


@dataclass(frozen=True)
class AppConfig:
    docs: list[Path]
    index: Path
    settings: Settings = Settings()
    shared_uploads: bool = False  # True: an upload joins the shared index that every visitor searches
    serve: object = None  # rag.serving.ServeOptions: answers come from Ray Serve replicas, not this process

    @property
    def local_settings(self) -> Settings:
        """What this process loads: under --serve the replicas hold the model, so the app keeps only
        the embedder (for uploads) and an extractive pipeline (for listing documents)."""
        from dataclasses import replace

        return replace(self.settings, generator="extractive", model=None) if self.serve else self.settings


@dataclass
class AppState:
    """What every session shares: the pipeline (swapped whole after an upload) and readiness.

    A visitor's uploads go to an index of their own (`private`) unless uploads are shared.
    """

    config: AppConfig
    pipeline: object = None
    private: PrivateIndexes = None
    status: str = "Preparing…"
    error: str | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    index_lock: threading.Lock = field(default_factory=threading.Lock)
    remote: object = None  # rag.serving.RemoteAnswers under --serve

    def __post_init__(self):
        if self.private is None:
            self.private = PrivateIndexes(self.config.index.parent / f"{self.config.index.name}-visitors")

    def pipeline_for(self, session: str | None):
        """The visitor's own pipeline once they uploaded something; the shared one otherwise."""
        private = self.private.get(session)
        return private.pipeline if private is not None and private.pipeline is not None else self.pipeline

    def index_for(self, session: str | None) -> Path:
        """The index folder a visitor's questions search: their private copy once they uploaded."""
        private = self.private.get(session)
        return private.index_dir if private is not None and private.pipeline is not None else self.config.index

    def log(self, message: str) -> None:
        self.status = message
        print(message, file=sys.stderr, flush=True)

    def prepare(self) -> None:
        """Index the documents and load the models; runs in a background thread at start."""
        from rag.assemble import build_pipeline, load_embedder
        from rag.index.indexer import build_index

        try:
            self.log("Preparing: loading the embedding model…")
            embedder = load_embedder(self.config.settings.embedding_model)
            self.log("Preparing: indexing the documents…")
            report = build_index(self.config.docs, self.config.index, embedder, warn=self.log)
            print(f"index {self.config.index}: {report.summary()}", file=sys.stderr)
            if self.config.serve is not None:
                from rag import serving

                self.log(f"Preparing: starting {self.config.serve.replicas} answering replica(s) on Ray Serve…")
                self.remote = serving.RemoteAnswers(serving.deploy(self.config.serve, self.config.settings))
            else:
                self.log("Preparing: loading the language model (the first start takes about a minute)…")
            self.pipeline = build_pipeline(self.config.local_settings, self.config.index, self.log)
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

    def ready_line(self, session: str | None = None) -> str:
        """The status line for a visitor: what their questions search."""
        if self.pipeline is None:
            return self.status
        index = self.pipeline_for(session).retriever.index
        model = self.config.settings.model if self.remote is not None else self.pipeline.generator.name
        where = f" on {self.config.serve.replicas} Ray Serve replica(s)" if self.remote is not None else ""
        return (f"Ready: {len(index.chunks)} passages from {len(index.manifest.files)} document(s), "
                f"model {model}{where}.")

    def documents_markdown(self, session: str | None = None) -> str:
        if self.pipeline is None:
            return "*(indexing…)*"
        files = self.pipeline_for(session).retriever.index.manifest.files
        from rag.render import markdown_literal

        return "\n".join(f"- {markdown_literal(Path(path).name)} ({info['chunks']} passages)"
                         for path, info in files.items())

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
        """Index uploads live; the pipeline is swapped only when the new index is complete."""
        from rag.assemble import build_pipeline, chunker_config
        from rag.index.indexer import build_index

        warnings: list[str] = []
        private = self.private_index_for(session)
        index_dir = self.config.index if private is None else private.index_dir
        with self.index_lock:
            report = build_index(paths, index_dir, self.pipeline.retriever.embedder,
                                 chunker_config(self.config.settings), warn=warnings.append, progress=progress)
            pipeline = build_pipeline(self.config.local_settings, index_dir, lambda message: None)  # models cached
            if private is None:
                self.pipeline = pipeline
            else:
                private.pipeline = pipeline
        lines = [f"Indexed: {len(report.files_added)} added, {len(report.files_updated)} updated, "
                 f"{report.chunks_total} passages in all."]
        def without_server_paths(message: str) -> str:  # a visitor is told of their file, not of our disk
            for path in paths:
                message = message.replace(str(path.resolve()), path.name).replace(str(path), path.name)
            return message

        return "\n".join(lines + [f"Warning: {without_server_paths(w)}" for w in warnings])


MAX_PREVIOUS_QUESTIONS = 8  # a follow-up refers to the last few turns; a client may send 40,000


def previous_turns(history: list) -> list:
    """The conversation's last turns (earliest first): each user question with the short answer the
    assistant gave it, bounded in number and length."""
    from rag.answer.conversation import Turn, answer_from_chat
    from rag.index.retrieval import MAX_QUESTION_CHARS

    turns = []
    for message in (history if isinstance(history, list) else [])[-4 * MAX_PREVIOUS_QUESTIONS:]:
        text = message_text(message)[:MAX_QUESTION_CHARS]
        if not text:
            continue
        if message.get("role") == "user":
            turns.append(Turn(text))
        elif message.get("role") == "assistant" and turns and not turns[-1].answer:
            turns[-1] = Turn(turns[-1].question, answer_from_chat(text))
    return turns[-MAX_PREVIOUS_QUESTIONS:]


def message_text(message) -> str:
    """A chat message's text: Gradio 6 sends the chat's own history with each content as a list of
    parts ([{"type": "text", "text": …}]), an API client may send a plain string. Read as a string
    only, every earlier turn was dropped and the README's follow-up ("the next ones") was refused.

    >>> message_text({"role": "user", "content": [{"type": "text", "text": "When?"}]}), message_text({"content": "Why?"})
    ('When?', 'Why?')
    """
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part["text"] for part in content
                        if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str))
    return ""


def answer_events(state: AppState, session: str | None, question: str, turns: list, k: int, mode: str):
    """(the question as searched, the answer's events): from this process's pipeline, or from the
    Ray Serve replicas, which search the same index folder (the visitor's own once they uploaded)."""
    if state.remote is None:
        pipeline = state.pipeline_for(session)
        standalone = pipeline.standalone(question, turns)
        return standalone, pipeline.stream(standalone, k=k, mode=mode)
    from rag.index.retrieval import check_query

    question = check_query(question, k, mode)
    index_dir = state.index_for(session)
    standalone = state.remote.standalone(index_dir, question, turns)
    return standalone, state.remote.stream(index_dir, standalone, k, mode)


def stream_answer(state: AppState, question: str, history: list, k: int, mode: str, session: str | None = None):
    """Yields (partial chat text, sources HTML) as the answer streams, the final pair last."""
    from rag.render import answer_markdown, markdown_literal, sources_html

    if not state.ready.is_set():
        yield "Preparing the documents and the model — your question will be answered in a moment…", ""
        state.ready.wait()
    if state.error:
        yield f"Warning: the app could not start: {markdown_literal(state.error)}", ""
        return
    standalone, events = answer_events(state, session, question, previous_turns(history), int(k), mode)
    text = ""
    from rag.answer.records import Final, Token

    for event in events:
        if isinstance(event, Token):
            text += event.text
            yield markdown_literal(text), sources_html(None, standalone)
        elif isinstance(event, Final):
            answer = event.answer
            answer.question = question
            yield answer_markdown(answer), sources_html(answer, standalone)


def build_app(state: AppState):
    from rag.answer.records import Final
    from rag.render import answer_text, sources_html

    def respond(message, history, k, mode, request: gr.Request):
        from rag.web.guard import plain_text

        message = plain_text(message or "").strip()  # a lone surrogate cannot be sent back to the browser
        if not message:
            yield "", history, gr.update()
            return
        history = plain_text(list(history or [])) + [{"role": "user", "content": message}]
        try:
            for text, sources in stream_answer(state, message, history[:-1], k, mode, session_of(request)):
                yield "", history + [{"role": "assistant", "content": text}], sources
        except UserError as exc:
            from rag.render import markdown_literal

            yield "", history + [{"role": "assistant", "content": f"Warning: {markdown_literal(str(exc))}"}], gr.update()

    def upload(files, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
        """Index a visitor's files; the build's own progress display (files, pages, passages) shows
        in the page through Gradio's tqdm tracking."""
        session = session_of(request)
        if not files:
            return "", state.documents_markdown(session)
        if not state.ready.wait(timeout=600) or state.pipeline is None:
            return "The app is not ready yet.", state.documents_markdown(session)
        from gradio.utils import get_upload_folder

        accepted, messages = [], []
        try:
            uploads = state.uploads_folder(session, client_of(request))
        except UserError as exc:
            raise refusal(exc) from None
        for file in files:
            try:  # checked again here: the handler must not rely on one guard alone
                path = uploaded_file(file if isinstance(file, str) else getattr(file, "name", None) or file["path"],
                                     Path(get_upload_folder()))
            except UserError as exc:
                raise refusal(exc) from None
            if reason := unsuitable(path):
                messages.append(f"Skipped: {reason}")
            else:
                target = uploads / path.name
                shutil.copyfile(path, target)
                accepted.append(target)
        if accepted:
            progress(0, desc=f"Reading {len(accepted)} file(s)…")
            try:
                messages.insert(0, state.add_documents(accepted, session, progress=True))
            except UserError as exc:
                messages.append(f"Warning: {exc} (the index is unchanged)")
        from rag.render import markdown_literal

        return "\n\n".join(markdown_literal(m) for m in messages), state.documents_markdown(session)

    def chat(question: str, previous_questions: list[str] | None = None, previous_answers: list[str] | None = None,
             request: gr.Request = None) -> str:
        """Answer a question from the indexed documents; returns the answer and its numbered sources.

        `previous_questions` (earliest first), with the short answers they got in `previous_answers`
        if the client has them, let a follow-up such as "When was it signed?" or "Who led it that
        year?" be rewritten into a standalone question; the rewrite is shown on a "Searched for:" line.
        """
        state.ready.wait()
        if state.error:
            raise refusal(state.error) from None
        from itertools import zip_longest

        from rag.answer.conversation import Turn
        from rag.index.retrieval import MAX_QUESTION_CHARS

        questions = previous_questions if isinstance(previous_questions, list) else []
        answers = previous_answers if isinstance(previous_answers, list) else []
        pairs = list(zip_longest(questions, answers[:len(questions)], fillvalue=""))[-MAX_PREVIOUS_QUESTIONS:]
        earlier = [Turn(q[:MAX_QUESTION_CHARS], a[:MAX_QUESTION_CHARS] if isinstance(a, str) else "")
                   for q, a in pairs if isinstance(q, str)]
        session = session_of(request)
        try:
            standalone, events = answer_events(state, session, question, earlier, state.config.settings.k,
                                               state.config.settings.mode)
            answer = next(e.answer for e in events if isinstance(e, Final))
        except UserError as exc:
            raise refusal(exc) from None
        answer.question = question
        searched = f"Searched for: {standalone}\n\n" if standalone != question else ""
        return searched + answer_text(answer)

    with gr.Blocks(title="Ask your documents", analytics_enabled=False) as demo:
        gr.Markdown("## Ask your documents\nAnswers come from the indexed documents only, with numbered sources.")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Conversation", height=460, sanitize_html=True, elem_id="chat",
                                     feedback_options=None)
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False, scale=5,
                                     elem_id="question", autofocus=True)
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                sources = gr.HTML(sources_html(None), elem_id="sources", padding=False)
            with gr.Column(scale=1):
                status = gr.Markdown(state.status, elem_id="status")
                gr.Markdown("**Documents**")
                documents = gr.Markdown(state.documents_markdown(), elem_id="documents")
                files = upload_component(label="Add documents (Markdown, text, HTML, PDF, Word)", file_count="multiple",
                                file_types=list(UPLOAD_TYPES), elem_id="upload")
                upload_status = gr.Markdown(elem_id="upload-status")
                k = gr.Slider(1, 10, value=state.config.settings.k, step=1, label="Passages to retrieve")
                mode = gr.Radio(list(MODES), value=state.config.settings.mode, label="Retrieval")
                clear = gr.Button("Clear conversation", elem_id="clear")

        def tick(request: gr.Request):
            return state.status, state.documents_markdown(session_of(request)), gr.Timer(active=not state.ready.is_set())

        timer = gr.Timer(1.0)
        timer.tick(tick, outputs=[status, documents, timer], api_visibility="private", queue=False)
        for trigger in (box.submit, send.click):
            trigger(respond, [box, chatbot, k, mode], [box, chatbot, sources], concurrency_limit=1,
                    concurrency_id="generate", api_visibility="private")
        def refresh_status(request: gr.Request):
            return state.ready_line(session_of(request))

        # the build's progress is drawn on the status line under the upload box only: drawn on
        # every output, it covered the document list ("reading - 100.0%" over the file names)
        files.upload(upload, [files], [upload_status, documents], concurrency_limit=1, api_name="upload",
                     show_progress="full", show_progress_on=[upload_status]).then(refresh_status, outputs=[status], api_visibility="private",
                                                queue=False)
        clear.click(lambda: ([], sources_html(None)), outputs=[chatbot, sources], api_visibility="private", queue=False)
        gr.api(chat, api_name="chat", concurrency_limit=1, concurrency_id="generate")
        def forget_visitor(request: gr.Request):
            state.private.drop(session_of(request))

        demo.unload(forget_visitor)
    return demo


def client_of(request) -> str | None:
    """The client's address: the socket's peer, or the forwarded one from a proxy named by
    --trusted-proxies (uvicorn applies FORWARDED_ALLOW_IPS)."""
    client = getattr(request, "client", None) if request is not None else None
    return getattr(client, "host", None)


def session_of(request) -> str | None:
    """The visitor's session id (None outside a request, e.g. a direct call in a test)."""
    return getattr(request, "session_hash", None) if request is not None else None


def theme():
    """System fonts: the default theme would make every browser fetch fonts from Google."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "SFMono-Regular", "monospace"])


def default_index_for(docs: list[Path]) -> Path:
    from rag import paths

    if [d.resolve() for d in docs] == [paths.sample_document()]:
        return paths.default_index_dir()
    key = hashlib.sha1("\n".join(sorted(str(d.resolve()) for d in docs)).encode()).hexdigest()[:10]
    return paths.home() / "indexes" / f"app-{key}"


def parse_args(argv=None) -> argparse.Namespace:
    from rag import paths

    parser = Parser(prog="app", description="Chat with your documents in the browser, locally.")
    parser.add_argument("--docs", nargs="+", type=Path, default=[paths.sample_document()],
                        help="files or folders to index (default: the bundled sample)")
    parser.add_argument("--index", type=Path, help="index folder (default: one per document set, in the user cache)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("RAG_PORT", 7860)))
    add_settings_arguments(parser)
    parser.add_argument("--auth", default=os.environ.get("RAG_AUTH"), help="USER:PASS (or set RAG_AUTH)")
    parser.add_argument("--trusted-proxies", default="", metavar="ADDR[,ADDR]",
                        help="reverse proxies whose X-Forwarded-For header names the client (default: none; "
                             "the login throttle counts by socket address)")
    parser.add_argument("--shared-uploads", action="store_true",
                        help="every visitor searches every upload (default: a visitor's uploads are theirs alone)")
    parser.add_argument("--serve", choices=["ray"], help="answer on Ray Serve replicas (pip install -e '.[serve]')")
    parser.add_argument("--ray-address", help="with --serve: join the Ray cluster at auto or HOST:PORT "
                                              "(default: start a local Ray)")
    parser.add_argument("--replicas", type=int, default=1, help="with --serve: answering replicas (default 1)")
    parser.add_argument("--replica-threads", type=int, default=1,
                        help="with --serve: CPU threads of each replica (default 1)")
    return parser.parse_args(argv)


def is_loopback(host: str) -> bool:
    """Only these addresses keep the server private to this machine.

    >>> [is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "192.168.1.4")]
    [True, True, True, False, False]
    """
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_state(args) -> AppState:
    for path in args.docs:
        if not path.exists():
            raise UserError(f"no such file or folder: {path}")
    if args.auth is not None and not all(args.auth.partition(":")[::2]):
        raise UserError("--auth must be USER:PASS, both non-empty")
    if not is_loopback(args.host) and not args.auth:
        raise UserError(f"--host {args.host} opens the documents to the network: give --auth USER:PASS "
                        f"(or RAG_AUTH) too")
    serve = None
    if args.serve:
        from rag.serving import ServeOptions

        if not 1 <= args.replicas <= 64 or not 1 <= args.replica_threads <= 64:
            raise UserError("--replicas and --replica-threads must be between 1 and 64")
        serve = ServeOptions(args.ray_address, args.replicas, args.replica_threads)
    elif args.ray_address or args.replicas != 1 or args.replica_threads != 1:
        raise UserError("--ray-address, --replicas and --replica-threads need --serve ray")
    return AppState(AppConfig(docs=list(args.docs), index=args.index or default_index_for(args.docs),
                              settings=Settings.from_args(args), shared_uploads=args.shared_uploads, serve=serve))


def launch(state: AppState, host: str, port: int, auth: str | None = None, block: bool = True,
           trusted_proxies: str = ""):
    """Serve the app. `trusted_proxies` (comma-separated addresses) are the only peers whose
    X-Forwarded-For names the client: by default the socket's address is the client's, so a
    made-up header cannot dodge the login throttle."""
    os.environ["FORWARDED_ALLOW_IPS"] = trusted_proxies  # read by the uvicorn server Gradio starts
    demo = build_app(state)
    from rag.web.guard import SessionCheckMiddleware, one_line_errors

    one_line_errors(demo)
    # api_open=False: the direct /run/ routes refuse queued events, so no request skips the queue
    # (one answer at a time) or arrives without the session that keeps uploads private.
    # One answer at a time in this process; under --serve, as many as there are replicas (Serve's
    # router queues the rest).
    replicas = state.config.serve.replicas if state.config.serve is not None else 1
    demo.queue(default_concurrency_limit=replicas, api_open=False)
    threading.Thread(target=state.prepare, daemon=True).start()
    credentials = tuple(auth.split(":", 1)) if auth else None
    from starlette.middleware import Middleware

    from rag.web.login import LoginThrottleMiddleware

    demo.launch(server_name=host, server_port=port, auth=credentials, share=False, inbrowser=False,
                app_kwargs={"middleware": [Middleware(LoginThrottleMiddleware), Middleware(SessionCheckMiddleware)]},
                prevent_thread_lock=not block, quiet=not block, max_file_size=f"{MAX_UPLOAD_MB}mb",
                theme=theme(), css=CSS, ssr_mode=False, footer_links=[])
    return demo


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        from rag.assemble import prefer_offline, quiet_library_warnings

        quiet_library_warnings()
        state = make_state(args)
        prefer_offline(state.config.settings)
        if state.config.serve is not None:  # a bad address or an absent cluster: one line now, not later
            from rag.serving import connect, watch_cluster

            connect(state.config.serve.address)
            watch_cluster(state.config.serve.address)
        print(f"Starting on http://{args.host}:{args.port} (Ctrl-C to stop)", file=sys.stderr)
        launch(state, args.host, args.port, args.auth, trusted_proxies=args.trusted_proxies)
    except UserError as exc:
        print(f"app: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"app: error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
