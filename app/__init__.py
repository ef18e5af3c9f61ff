"""The chat app in the browser: `python app.py` serves a streaming chat over the bundled sample
(or --docs).

The page comes up at once; the index and the model are prepared in a background thread while
the page says so. One model is shared by every user; generation goes through Gradio's queue.
The app reaches the documents through one door, `rag.assistant.Assistant`, the same whether this
process answers or Ray Serve replicas do.

    state.py     what every session shares: the configuration, the assistant, readiness
    handlers.py  what the page's events do (chat, upload, the /chat API)
    ui.py        the page's layout and style, and which handler each event calls
    render.py    the chat's Markdown and the sources' HTML, escaped
    launch.py    the command line, its checks, and the server with its guards
    web/         guards at the server's doors, logins, visitors' own indexes, page pictures
"""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # never phone home (read when gradio is imported)
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from app.handlers import MAX_PREVIOUS_QUESTIONS, message_text, previous_turns  # noqa: E402
from app.launch import launch, main, make_state, parse_args  # noqa: E402
from app.state import AppConfig, AppState  # noqa: E402
from app.ui import build_app  # noqa: E402

__all__ = ["AppConfig", "AppState", "MAX_PREVIOUS_QUESTIONS", "build_app", "launch", "main", "make_state",
           "message_text", "parse_args", "previous_turns"]
