"""The page: its layout, its style, and which handler each event calls."""
from __future__ import annotations

import gradio as gr

from app import handlers
from app.render import sources_html
from app.state import AppState
from app.web.uploads import UPLOAD_TYPES, upload_component
from rag.library import FORMAT_NAMES
from rag.settings import MODES

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


def build_app(state: AppState):
    def respond(message, history, k, mode, request: gr.Request):
        yield from handlers.respond(state, message, history, k, mode, session_of(request))

    def upload(files, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
        """Index a visitor's files; the build's own progress display (files, pages, passages) shows
        in the page through Gradio's tqdm tracking."""
        return handlers.upload(state, files, session_of(request), client_of(request), progress)

    def chat(question: str, previous_questions: list[str] | None = None, previous_answers: list[str] | None = None,
             request: gr.Request = None) -> str:
        """Answer a question from the indexed documents; returns the answer and its numbered sources.

        `previous_questions` (earliest first), with the short answers they got in `previous_answers`
        if the client has them, let a follow-up such as "When was it signed?" or "Who led it that
        year?" be rewritten into a standalone question; the rewrite is shown on a "Searched for:" line.
        """
        return handlers.chat(state, question, previous_questions, previous_answers, session_of(request))

    with gr.Blocks(title="Ask your documents", analytics_enabled=False) as demo:
        parts = layout(state)
        wire(demo, state, parts, respond, upload)
        gr.api(chat, api_name="chat", concurrency_limit=1, concurrency_id="generate")
    return demo


def layout(state: AppState) -> dict:
    """The page's components, by name."""
    settings = state.config.settings
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
            files = upload_component(label=f"Add documents ({', '.join(FORMAT_NAMES.values())})",
                                     file_count="multiple", file_types=list(UPLOAD_TYPES), elem_id="upload")
            upload_status = gr.Markdown(elem_id="upload-status")
            k = gr.Slider(1, 10, value=settings.k, step=1, label="Passages to retrieve")
            mode = gr.Radio(list(MODES), value=settings.mode, label="Retrieval")
            clear = gr.Button("Clear conversation", elem_id="clear")
    return dict(chatbot=chatbot, box=box, send=send, sources=sources, status=status, documents=documents,
                files=files, upload_status=upload_status, k=k, mode=mode, clear=clear)


def wire(demo, state: AppState, parts: dict, respond, upload) -> None:
    """Which handler each event calls, and what it updates."""
    def tick(request: gr.Request):
        return state.status, state.documents_markdown(session_of(request)), gr.Timer(active=not state.ready.is_set())

    def refresh_status(request: gr.Request):
        return state.ready_line(session_of(request))

    def forget_visitor(request: gr.Request):
        state.private.drop(session_of(request))

    p = parts
    timer = gr.Timer(1.0)
    timer.tick(tick, outputs=[p["status"], p["documents"], timer], api_visibility="private", queue=False)
    for trigger in (p["box"].submit, p["send"].click):
        trigger(respond, [p["box"], p["chatbot"], p["k"], p["mode"]], [p["box"], p["chatbot"], p["sources"]],
                concurrency_limit=1, concurrency_id="generate", api_visibility="private")
    # the build's progress is drawn on the status line under the upload box only: drawn on
    # every output, it covered the document list ("reading - 100.0%" over the file names)
    p["files"].upload(upload, [p["files"]], [p["upload_status"], p["documents"]], concurrency_limit=1,
                      api_name="upload", show_progress="full", show_progress_on=[p["upload_status"]]
                      ).then(refresh_status, outputs=[p["status"]], api_visibility="private", queue=False)
    p["clear"].click(lambda: ([], sources_html(None)), outputs=[p["chatbot"], p["sources"]],
                     api_visibility="private", queue=False)
    demo.unload(forget_visitor)
