"""The chat app, started in-process on a free port and driven by gradio_client, with the real model."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

import app as chat_app
from rag.paths import sample_document


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(tmp: Path, docs: list[Path], generator: str = "transformers"):
    from rag.settings import Settings

    state = chat_app.AppState(chat_app.AppConfig(docs=docs, index=tmp / "index", settings=Settings(generator=generator)))
    port = free_port()
    demo = chat_app.launch(state, "127.0.0.1", port, block=False)
    assert state.ready.wait(timeout=900), "the app never became ready"
    assert state.error is None, state.error
    return demo, state, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def sample_app(tmp_path_factory):
    demo, state, url = start(tmp_path_factory.mktemp("app"), [sample_document()])
    yield state, url
    demo.close()


@pytest.fixture(scope="module")
def client(sample_app):
    from gradio_client import Client

    return Client(sample_app[1], verbose=False)


def test_listens_on_loopback_with_analytics_off(sample_app):
    state, url = sample_app
    assert url.startswith("http://127.0.0.1:")
    import os

    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


def test_chat_api_answers_with_numbered_sections(client):
    text = client.predict("When were the first Guidelines formulated?", api_name="/chat")
    answer, _, sources = text.partition("\n\nSources:\n")
    assert "1978" in answer and ("[1]" in answer or "[2]" in answer)
    assert "1 Background to the Formulation of the Guidelines" in sources
    assert "japan-us-alliance.md" in sources


def test_follow_up_is_rewritten_from_the_history(client):
    text = client.predict("When were they first formulated?",
                          ["What do the Guidelines for Japan-U.S. Defense Cooperation provide?"], api_name="/chat")
    searched = text.splitlines()[0]
    assert searched.startswith("Searched for:") and "uideline" in searched
    assert "1978" in text


@pytest.mark.parametrize("follow_up", ["When were the next ones developed?", "When were the subsequent ones developed?"])
def test_a_follow_up_about_the_next_ones_is_answered_from_the_same_passage(client, follow_up):
    """Both were refused though 1997 stands in the passage that answers the first question."""
    text = client.predict(follow_up, ["When were the first Guidelines formulated?"], api_name="/chat")
    assert text.splitlines()[0].startswith("Searched for:") and "1997" in text, text


def test_a_follow_up_about_that_year_takes_the_year_from_the_earlier_answer(client):
    """The API's previous answers join the conversation: "that year" is the year answered before."""
    text = client.predict("What was the focus of the Guidelines of that year?",
                          ["When were the first Guidelines formulated?"], ["1978"], api_name="/chat")
    assert text.splitlines()[0].startswith("Searched for:") and "1978" in text.splitlines()[0], text


def test_concurrent_users_get_their_own_answers(client):
    """Two questions at once go through the queue; neither answer leaks into the other."""
    first = client.submit("When were the first Guidelines formulated?", api_name="/chat")
    second = client.submit("Which region must mitigate the impact of the stationing of U.S. Forces?", api_name="/chat")
    a, b = first.result(timeout=600), second.result(timeout=600)
    assert "1978" in a and "Okinawa" not in a.split("Sources:")[0]
    assert "Okinawa" in b and "1978" not in b.split("Sources:")[0]


def test_refusal_looks_like_a_refusal(client):
    text = client.predict("What is the capital of Australia?", api_name="/chat")
    assert text == "The documents do not cover this question."


def test_upload_is_indexed_live_and_answerable(client, sample_app, tmp_path):
    from gradio_client import handle_file

    doc = tmp_path / "harbour.md"
    doc.write_text("# Harbour Report\n\nThe new harbour in Port Ellery opened in 2021 and handles grain exports.\n")
    junk = tmp_path / "junk.txt"
    junk.write_bytes(bytes(range(256)) * 8)
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Invalid file type"):
        client.predict([handle_file(str(exe))], api_name="/upload")
    status, documents = client.predict([handle_file(str(doc)), handle_file(str(junk))], api_name="/upload")
    assert "harbour.md" in documents and "japan-us-alliance.md" in documents
    assert "junk.txt" in status and "binary" in status
    text = client.predict("When did the harbour in Port Ellery open?", api_name="/chat")
    assert "2021" in text and "Harbour Report" in text


def test_empty_question_is_a_clear_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="empty"):
        client.predict("   ", api_name="/chat")


def test_bad_command_line_is_one_line(tmp_path, capsys):
    assert chat_app.main(["--docs", str(tmp_path / "missing.md")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"app: error: no such file or folder: {tmp_path / 'missing.md'}"]
    assert chat_app.main(["--auth", "nocolon"]) == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:  # argparse's own errors are one line too
        chat_app.main(["--precision", "int4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and "--precision" in err[0]


def test_a_word_file_can_be_uploaded_and_asked(client, tmp_path):
    from gradio_client import handle_file
    from test_documents import word_file

    status, documents = client.predict([handle_file(str(word_file(tmp_path / "plan.docx")))], api_name="/upload")
    assert "plan.docx" in documents and "1 added" in status, status
    text = client.predict("How many people does the harbour employ?", api_name="/chat")
    assert "310" in text and "2 Staff" in text
