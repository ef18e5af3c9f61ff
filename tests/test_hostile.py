"""The attacks the product survives, each through its real entry point (a gradio_client against
the real server, or the `rag` command in a subprocess). Read the test names as the list."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from rag.paths import sample_document
from test_app import start

SECRET = "The vault code is 8812."


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    """The app over the sample with the extractive answerer: these tests are about what gets in."""
    demo, state, url = start(tmp_path_factory.mktemp("hostile-app"), [sample_document()], generator="extractive")
    yield state, url
    demo.close()


@pytest.fixture(scope="module")
def hostile_client(hostile_app):
    from gradio_client import Client

    return Client(hostile_app[1], verbose=False)


@pytest.fixture
def server_secret(tmp_path) -> Path:
    """A file on the server that no visitor uploaded."""
    secret = tmp_path / "private" / "secret.md"
    secret.parent.mkdir()
    secret.write_text(f"# Private notes\n\n{SECRET}\n")
    return secret


def file_data(path: str) -> dict:
    return {"path": path, "orig_name": "notes.md", "meta": {"_type": "gradio.FileData"}}


def raw_call(url: str, api_name: str, data: list) -> tuple[str, object]:
    """An API call as a hostile client makes it: raw HTTP, no gradio_client.

    gradio_client would read a named local file itself and upload its bytes; a remote attacker
    sends the server path as it is. Returns ("complete", outputs) or ("error", message).
    """
    import json

    import httpx

    base = url.rstrip("/") + "/gradio_api"
    event = httpx.post(f"{base}/call/{api_name}", json={"data": data}, timeout=30).json()["event_id"]
    kind = None
    with httpx.stream("GET", f"{base}/call/{api_name}/{event}", timeout=120) as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: "):]
            elif line.startswith("data: ") and kind in ("complete", "error"):
                payload = json.loads(line[len("data: "):])
                return kind, payload.get("error") if kind == "error" and isinstance(payload, dict) else payload
    raise AssertionError("the server closed the stream without a result")


def assert_refused(kind: str, message) -> None:
    """Refused by the app's guard (its message), or before it by Gradio's own path check, which
    sends an error with no message to a client."""
    assert kind == "error", message
    assert message is None or "not a file uploaded to this server" in message, message


def assert_secret_not_indexed(state, client):
    sources = set(state.pipeline.retriever.index.manifest.files)
    assert not any("secret" in s or "notes" in Path(s).name for s in sources), sources
    assert "8812" not in client.predict("What is the vault code?", api_name="/chat")


def test_upload_of_a_server_path_is_refused(hostile_app, hostile_client, server_secret):
    kind, message = raw_call(hostile_app[1], "upload", [[file_data(str(server_secret))]])
    assert_refused(kind, message)
    assert_secret_not_indexed(hostile_app[0], hostile_client)


def test_upload_of_a_symlink_out_of_the_upload_folder_is_refused(hostile_app, hostile_client, server_secret):
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()) / f"planted-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    link = folder / "notes.md"
    os.symlink(server_secret, link)
    try:
        kind, message = raw_call(hostile_app[1], "upload", [[file_data(str(link))]])
    finally:
        link.unlink()
        folder.rmdir()
    assert_refused(kind, message)
    assert_secret_not_indexed(hostile_app[0], hostile_client)


def test_upload_of_a_url_is_refused_without_fetching_it(hostile_app):
    """Gradio would download a URL named as a file: the server must not fetch for a visitor."""
    import http.server
    import threading

    fetched = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            fetched.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"# Notes\n\nplanted\n")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        kind, message = raw_call(hostile_app[1], "upload",
                                 [[file_data(f"http://127.0.0.1:{server.server_port}/notes.md")]])
    finally:
        server.shutdown()
    assert kind == "error" and "not a file uploaded to this server" in message
    assert fetched == []


def test_upload_of_a_real_file_still_works(hostile_app, hostile_client, tmp_path):
    from gradio_client import handle_file

    doc = tmp_path / "lighthouse.md"
    doc.write_text("# Lighthouse Log\n\nThe lighthouse at Cape Morrow was automated in 1987.\n")
    status, documents = hostile_client.predict([handle_file(str(doc))], api_name="/upload")
    assert "lighthouse.md" in documents and "1 added" in status


def run_cli(*argv: str, cwd=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "rag", *argv], capture_output=True, text=True, timeout=600, cwd=cwd)


def assert_one_line_error(result, expected: str) -> None:
    err = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(err) == 1 and expected in err[0], result.stderr


def test_eval_config_with_a_wrong_type_fails_before_anything_loads(tmp_path):
    questions = tmp_path / "set.jsonl"
    questions.write_text('{"id": "a", "question": "When?", "answers": ["1978"]}\n')
    (tmp_path / "five.toml").write_text('k = "five"\n')
    out = tmp_path / "out"
    result = run_cli("eval", str(questions), "--out", str(out), "--compare", str(tmp_path / "five.toml"))
    assert_one_line_error(result, "k = 'five' should be a whole number")
    assert not out.exists()  # failed before the run began, so before any model loaded


def test_eval_out_naming_an_existing_file_is_one_line_and_leaves_it(tmp_path):
    questions = tmp_path / "set.jsonl"
    questions.write_text('{"id": "a", "question": "When?", "answers": ["1978"]}\n')
    existing = tmp_path / "README.md"
    existing.write_text("keep me\n")
    result = run_cli("eval", str(questions), "--out", str(existing), "--generator", "extractive")
    assert_one_line_error(result, "is a file; name a folder")
    assert existing.read_text() == "keep me\n"
