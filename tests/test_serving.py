"""Answering on Ray Serve replicas, on a real local Ray: the same answers as one process, private
uploads kept private whichever replica answers, and no hung page when a replica dies."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("ray.serve", reason="the serve extra is not installed: pip install -e '.[serve]'")

import app as chat_app  # noqa: E402
from rag.answer.conversation import Turn  # noqa: E402
from rag.records import Answer, Final, Token  # noqa: E402
from rag.errors import UserError  # noqa: E402
from rag.paths import sample_document  # noqa: E402
from rag.settings import Settings  # noqa: E402
from test_app import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["When were the first Guidelines formulated?",
             "Which region must mitigate the impact of the stationing of U.S. Forces?",
             "What is the capital of Australia?"]


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    """The app over the sample, answering on two replicas of the default model (one thread each)."""
    from ray import serve

    from rag.serving import ServeOptions, connect

    connect(None)
    state = chat_app.AppState(chat_app.AppConfig(docs=[sample_document()],
                                                 index=tmp_path_factory.mktemp("served") / "index",
                                                 settings=Settings(), serve=ServeOptions(None, 2, 1)))
    port = free_port()
    demo = chat_app.launch(state, "127.0.0.1", port, block=False)
    assert state.ready.wait(timeout=1200) and state.error is None, state.error
    yield state, f"http://127.0.0.1:{port}/"
    demo.close()
    serve.shutdown()
    import ray

    ray.shutdown()


def final_answer(events):
    return next(e.answer for e in events if isinstance(e, Final))


def replica_pids(state, calls: int = 12) -> set[int]:
    """The replicas' process ids, gathered by asking several at once (each answers one at a time)."""
    responses = [state.assistant.remote.handle.pid.remote() for _ in range(calls)]
    return {r.result(timeout_s=120) for r in responses}


def test_answers_through_serve_equal_the_single_process_answers(served_app, model):
    from rag import assemble
    from rag.assemble import answer_pipeline
    from rag.index.retrieval import Retriever

    state, _ = served_app
    assert state.assistant.remote is not None and "Ray Serve" in state.ready_line()
    local = answer_pipeline(Retriever.open(state.config.index, assemble.load_embedder()), model,
                           assemble.answer_config(Settings()))
    for question in QUESTIONS:
        events = list(state.assistant.remote.stream(state.config.index, question, 4, "hybrid"))
        assert any(isinstance(e, Token) for e in events) or final_answer(events).refused  # streamed, not one lump
        served, single = final_answer(events), local.ask(question)
        assert (served.text, served.short_answer, served.refused) == (single.text, single.short_answer, single.refused)
    follow_up = state.assistant.remote.standalone(state.config.index, "When were they first formulated?",
                                        [Turn("What do the Guidelines for Japan-U.S. Defense Cooperation provide?")])
    assert follow_up == local.standalone("When were they first formulated?",
                                         [Turn("What do the Guidelines for Japan-U.S. Defense Cooperation provide?")])


def test_a_visitors_upload_is_searched_for_that_visitor_only_whichever_replica_answers(served_app, tmp_path):
    from gradio_client import Client, handle_file

    state, url = served_app
    assert len(replica_pids(state)) == 2
    planter, other = Client(url, verbose=False), Client(url, verbose=False)
    doc = tmp_path / "notice.md"
    doc.write_text("# Harbour Notice\n\nThe harbour master of Port Ellery is Mira Castell.\n")
    planter.predict([handle_file(str(doc))], api_name="/upload")
    question = "Who is the harbour master of Port Ellery?"
    asked = [planter.submit(question, api_name="/chat") for _ in range(2)] + \
            [other.submit(question, api_name="/chat") for _ in range(2)]  # four at once: both replicas answer
    answers = [job.result(timeout=600) for job in asked]
    assert all("Mira Castell" in a for a in answers[:2]), answers[:2]
    assert not any("Mira Castell" in a for a in answers[2:]), answers[2:]


def test_a_replica_killed_mid_answer_leaves_no_hung_request(served_app):
    """The visitor gets a clear message (or the answer, retried); Serve replaces the replica."""
    state, _ = served_app
    pids = replica_pids(state)
    outcome: list = []

    def ask():
        try:
            for event in state.assistant.remote.stream(state.config.index, QUESTIONS[0], 4, "hybrid"):
                if isinstance(event, Token) and not outcome:
                    outcome.append("first token")
                if isinstance(event, Final):
                    outcome.append(event.answer)
        except UserError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=ask, daemon=True)
    worker.start()
    deadline = time.monotonic() + 300
    while not outcome and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:  # both: whichever one is answering dies mid-answer
        os.kill(pid, signal.SIGKILL)
    worker.join(timeout=120)
    assert not worker.is_alive(), "the request hung after its replica died"
    last = outcome[-1]
    if isinstance(last, UserError):  # the request's replica died: one clear message
        assert "the answering replica stopped" in str(last), last
    else:  # or it was retried on the other replica: then it is the right answer, not any answer
        assert isinstance(last, Answer) and not last.refused and "1978" in last.text, last
    deadline = time.monotonic() + 600  # Serve starts replacements; the next question is answered
    while True:
        try:
            answer = final_answer(state.assistant.remote.stream(state.config.index, QUESTIONS[0], 4, "hybrid"))
            break
        except UserError:
            assert time.monotonic() < deadline, "no replica came back"
            time.sleep(5)
    assert "1978" in answer.text
    assert not pids & replica_pids(state)


@pytest.mark.parametrize("argv, expected", [
    (["--serve", "ray", "--ray-address", "127.0.0.1:1"], "cannot reach the Ray cluster at 127.0.0.1:1"),
    (["--serve", "ray", "--ray-address", "not an address"], "is not HOST:PORT"),
    (["--replicas", "2"], "need --serve ray"),
    (["--serve", "ray", "--replicas", "0"], "between 1 and 64"),
])
def test_bad_serve_arguments_are_one_line_and_exit_2(argv, expected):
    result = subprocess.run([sys.executable, "app.py", "--port", "1", *argv], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and expected in lines[0], result.stderr


def test_an_evaluation_set_runs_through_the_replicas(served_app, tmp_path):
    """`rag eval --serve ADDRESS`: questions go to the replicas, as many at once as there are."""
    import json

    import ray

    from eval.runner import EvalRun, run
    from rag import serving

    state, _ = served_app
    rows = [{"id": f"q{n}", "question": q, "answers": a} for n, (q, a) in
            enumerate(zip(QUESTIONS, [["1978"], ["Okinawa"], []]))]
    (tmp_path / "set.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    address = ray.get_runtime_context().gcs_address
    assert serving.replica_count() == 2
    summary = run(tmp_path / "set.jsonl", tmp_path / "out", EvalRun(), state.config.index, None, True,
                  progress=False, serve=address)
    results = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in results] == ["q0", "q1", "q2"] and summary["questions"] == 3
    assert results[0]["metrics"]["correct"] and results[2]["refused"]


def test_eval_through_serve_without_replicas_is_one_line(tmp_path, capsys):
    from rag.cli import main

    (tmp_path / "set.jsonl").write_text('{"id": "a", "question": "When?", "answers": ["1978"]}\n')
    code = main(["eval", str(tmp_path / "set.jsonl"), "--out", str(tmp_path / "out"), "--serve", "127.0.0.1:1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("rag: error: cannot reach the Ray cluster at 127.0.0.1:1"), err


def test_the_app_says_so_in_one_line_and_exits_when_its_cluster_goes(tmp_path):
    """`ray start --head`, the app on it, then the cluster stopped: one line, exit 1, no hang."""
    import socket

    from gradio_client import Client
    from ray.util import get_node_ip_address

    ray_cli = Path(sys.executable).with_name("ray")
    host, port, web = get_node_ip_address(), free_port(), free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_AUTH_MODE", None)
    head = subprocess.Popen([str(ray_cli), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                             f"--node-ip-address={host}", "--include-dashboard=false", "--disable-usage-stats"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "head.log", "w"), env=env)
    app = None
    try:
        deadline = time.time() + 120
        while True:
            assert head.poll() is None and time.time() < deadline, (tmp_path / "head.log").read_text()
            try:
                socket.create_connection((host, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        app = subprocess.Popen([sys.executable, "app.py", "--serve", "ray", "--ray-address", f"{host}:{port}",
                                "--generator", "extractive", "--port", str(web), "--index", str(tmp_path / "index")],
                               cwd=ROOT, env={**env, "RAY_AUTH_MODE": "token"}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 600
        while True:  # answered through a replica on that cluster
            assert app.poll() is None and time.time() < deadline, app.stderr.read()
            try:
                answer = Client(f"http://127.0.0.1:{web}/", verbose=False).predict(QUESTIONS[0], api_name="/chat")
                break
            except Exception:
                time.sleep(2)
        assert "1978" in answer
        head.send_signal(signal.SIGTERM)
        head.wait(timeout=120)
        assert app.wait(timeout=120) == 1
        assert app.stderr.read().strip().splitlines()[-1] == f"app: error: the Ray cluster at {host}:{port} is gone"
    finally:
        for process in (app, head):
            if process is not None and process.poll() is None:
                process.kill()
        record = Path("/tmp/ray/ray_current_cluster")  # `ray start` leaves it behind; `ray.init()` would dial it
        if record.is_file() and record.read_text().strip().endswith(f":{port}"):
            record.unlink()
