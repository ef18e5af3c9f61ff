"""What the page's events do: answer a chat message (streamed), index an upload, answer the
/chat API. Each handler talks to the documents through the state's `Assistant` only."""
from __future__ import annotations

import shutil
from dataclasses import replace
from itertools import zip_longest
from pathlib import Path

from app.render import answer_markdown, markdown_literal, sources_html
from app.state import AppState
from app.web.uploads import refusal, unsuitable, uploaded_file
from rag.assistant import Searched, Turn, answer_from_chat
from rag.errors import UserError
from rag.query import MAX_QUESTION_CHARS
from rag.records import Final, Token
from rag.render import answer_text

MAX_PREVIOUS_QUESTIONS = 8  # a follow-up refers to the last few turns; a client may send 40,000


def previous_turns(history: list) -> list[Turn]:
    """The conversation's last turns (earliest first): each user question with the short answer the
    assistant gave it, bounded in number and length."""
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


def api_turns(previous_questions, previous_answers) -> list[Turn]:
    """The /chat API's earlier turns, bounded in number and length; what is not text is dropped."""
    questions = previous_questions if isinstance(previous_questions, list) else []
    answers = previous_answers if isinstance(previous_answers, list) else []
    pairs = list(zip_longest(questions, answers[:len(questions)], fillvalue=""))[-MAX_PREVIOUS_QUESTIONS:]
    return [Turn(q[:MAX_QUESTION_CHARS], a[:MAX_QUESTION_CHARS] if isinstance(a, str) else "")
            for q, a in pairs if isinstance(q, str)]


def stream_answer(state: AppState, question: str, history: list, k: int, mode: str, session: str | None = None):
    """Yields (partial chat text, sources HTML) as the answer streams, the final pair last."""
    if not state.ready.is_set():
        yield "Preparing the documents and the model — your question will be answered in a moment…", ""
        state.ready.wait()
    if state.error:
        yield f"Warning: the app could not start: {markdown_literal(state.error)}", ""
        return
    assistant = state.assistant_for(session)
    text, searched = "", None
    for event in assistant.ask(assistant.query(question, int(k), mode), previous_turns(history)):
        if isinstance(event, Searched):
            searched = event.text
        elif isinstance(event, Token):
            text += event.text
            yield markdown_literal(text), sources_html(None, searched)
        elif isinstance(event, Final):
            answer = replace(event.answer, question=question)
            yield answer_markdown(answer), sources_html(answer, searched)


def respond(state: AppState, message, history, k, mode, session: str | None):
    """The chat box's handler: yields (cleared box, chat history, sources) as the answer streams."""
    import gradio as gr

    from app.web.guard import plain_text

    message = plain_text(message or "").strip()  # a lone surrogate cannot be sent back to the browser
    if not message:
        yield "", history, gr.update()
        return
    history = plain_text(list(history or [])) + [{"role": "user", "content": message}]
    try:
        for text, sources in stream_answer(state, message, history[:-1], k, mode, session):
            yield "", history + [{"role": "assistant", "content": text}], sources
    except UserError as exc:
        yield "", history + [{"role": "assistant", "content": f"Warning: {markdown_literal(str(exc))}"}], gr.update()


def upload(state: AppState, files, session: str | None, client: str | None, progress) -> tuple[str, str]:
    """Index a visitor's files: (the upload's status text, the document list)."""
    if not files:
        return "", state.documents_markdown(session)
    if not state.ready.wait(timeout=600) or state.assistant is None:
        return "The app is not ready yet.", state.documents_markdown(session)
    from gradio.utils import get_upload_folder

    accepted, messages = [], []
    try:
        uploads = state.uploads_folder(session, client)
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
    return "\n\n".join(markdown_literal(m) for m in messages), state.documents_markdown(session)


def chat(state: AppState, question: str, previous_questions, previous_answers, session: str | None) -> str:
    """The /chat API: the answer and its numbered sources as text, after a "Searched for:" line
    when a follow-up was rewritten."""
    state.ready.wait()
    if state.error:
        raise refusal(state.error) from None
    assistant = state.assistant_for(session)
    try:
        answer = assistant.answer(assistant.query(question), api_turns(previous_questions, previous_answers))
    except UserError as exc:
        raise refusal(exc) from None
    standalone = answer.question
    searched = f"Searched for: {standalone}\n\n" if standalone != question else ""
    return searched + answer_text(replace(answer, question=question))
