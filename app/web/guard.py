"""What a hostile or broken client sends before the app's handlers see it: one log line each.

Gradio checks a request's values (a slider's range, a radio's choices, a chat message's shape, an
upload's path) before any handler runs, and logs every refusal with a full traceback: 10,000
malformed history messages wrote 30,000 log lines. An empty `session_hash` ends in a KeyError
inside Gradio's queue (HTTP 500), and a lone surrogate in text the app sends back breaks the
client's stream. Each is stopped here with one line, so the log stays readable and the client
gets a reason.
"""
from __future__ import annotations

import json
import re
import sys

CHECKED_PATHS = ("/queue/join",)  # and every /call/<api name>
MAX_SESSION_CHARS = 128
MAX_BODY_BYTES = 16 * 1024 * 1024  # a queued call's JSON (questions, history); files go to /upload, not here
_SURROGATES = re.compile("[\ud800-\udfff]")


def log_refusal(reason: str) -> str:
    """One log line for a refused request; returns the reason, whitespace folded and cut."""
    text = " ".join(str(reason).split())[:300]
    print(f"refused: {text}", file=sys.stderr, flush=True)
    return text


def plain_text(value):
    """`value` with every lone surrogate (not text: it cannot be encoded) replaced by U+FFFD,
    through lists and dicts, so a chat history can be sent back to the browser.

    >>> plain_text([{"content": "a\\ud800b"}])
    [{'content': 'a\ufffdb'}]
    """
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, list):
        return [plain_text(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_text(v) for k, v in value.items()}
    return value


def session_problem(body: bytes) -> str | None:
    """Why a queue or call request's session id is unusable, or None (absent is Gradio's to handle)."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return None  # Gradio answers malformed JSON itself, with 422 and no traceback
    if not isinstance(payload, dict) or "session_hash" not in payload or payload["session_hash"] is None:
        return None
    session = payload["session_hash"]
    if not isinstance(session, str) or not session.strip() or len(session) > MAX_SESSION_CHARS:
        return f"session_hash must be a non-empty string of at most {MAX_SESSION_CHARS} characters"
    return None


class SessionCheckMiddleware:
    """ASGI middleware: a queue join or API call with an empty or odd session id gets 400."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope.get("method") != "POST" or not (path.endswith(CHECKED_PATHS) or "/call/" in path):
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_BODY_BYTES:  # held in memory to be read: a limit, not whatever a client sends
                return await _refuse(send, 413, f"a request body over {MAX_BODY_BYTES // 1048576} MB")
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if problem := session_problem(body):
            return await _refuse(send, 400, problem)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send, status: int, reason: str) -> None:
    detail = json.dumps({"detail": log_refusal(reason)}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": detail})


def one_line_errors(demo) -> None:
    """Refusals raised by Gradio's own checks (before a handler) become one log line and a
    gr.Error with the reason for the client, instead of a traceback per request.

    Errors from the app's own code are left as they are: a bug keeps its traceback.
    """
    import gradio as gr
    from gradio.exceptions import InvalidPathError
    from pydantic import ValidationError

    process_api = demo.process_api

    async def checked(*args, **kwargs):
        try:
            return await process_api(*args, **kwargs)
        except InvalidPathError:
            raise gr.Error(log_refusal("an upload naming a server path: not a file uploaded to this server"),
                           print_exception=False) from None
        except ValidationError as exc:
            first = exc.errors()[0] if exc.errors() else {}
            where = ".".join(str(p) for p in first.get("loc", ())[:3])
            reason = f"{exc.error_count()} invalid value(s) for {exc.title} (first: {where} {first.get('msg', '')})"
            raise gr.Error(log_refusal(reason), print_exception=False) from None
        except gr.Error as exc:
            if not exc.print_exception:
                raise
            raise gr.Error(log_refusal(exc.message), print_exception=False) from None

    demo.process_api = checked
