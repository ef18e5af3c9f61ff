"""The Ray engine against the local one, on a real local Ray and on a `ray start --head` cluster."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="the Ray engine's extra is not installed: pip install -e '.[ray]'")

from eval.datasets import dataset_dir  # noqa: E402
from rag.index import store  # noqa: E402
from rag.index.indexer import build_index  # noqa: E402
from rag.index.retrieval import Retriever  # noqa: E402

SCIFACT = dataset_dir("beir_scifact")
DOCUMENTS = 150  # enough for eight read tasks over two workers; each build of them is a CI cost
QUERIES = ["vitamin D and bone density", "genes linked to breast cancer", "smoking and lung function",
           "antibiotic resistance in bacteria", "exercise and heart disease", "insulin resistance in obesity"]


def _rag(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.fixture(scope="module")
def pid_file(tmp_path_factory) -> Path:
    """Each embedding actor writes its process id here (set before Ray starts: workers inherit it)."""
    path = tmp_path_factory.mktemp("ray") / "actor-pids"
    os.environ["RAG_RAY_ACTOR_PIDS"] = str(path)
    yield path
    os.environ.pop("RAG_RAY_ACTOR_PIDS", None)


@pytest.fixture(scope="module")
def ray_engine(pid_file):
    """A local Ray of this machine's two cores, as `rag index --engine ray` starts without an address."""
    import ray

    from rag.index.ray_engine import RayEngine

    # address="local": a new Ray of its own, never a cluster (or a stale record of one) found on the machine
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    engine = RayEngine()
    assert engine.workers == 2
    yield engine
    ray.shutdown()


@pytest.fixture(scope="module")
def scifact_docs(tmp_path_factory) -> Path:
    from eval.datasets import load_beir, write_corpus

    data = load_beir(SCIFACT)
    folder = tmp_path_factory.mktemp("scifact") / "docs"
    write_corpus(dict(list(data.corpus.items())[:DOCUMENTS]), folder)
    return folder


@pytest.fixture(scope="module")
def local_index(tmp_path_factory, scifact_docs, embedder) -> Path:
    index_dir = tmp_path_factory.mktemp("local") / "index"
    build_index([scifact_docs], index_dir, embedder, progress=False)
    return index_dir


def assert_same_index(a: Path, b: Path, embedder) -> None:
    left, right = store.load(a), store.load(b)
    assert [c.chunk_id for c in left.chunks] == [c.chunk_id for c in right.chunks]
    assert [c.text for c in left.chunks] == [c.text for c in right.chunks]
    assert [c.section for c in left.chunks] == [c.section for c in right.chunks]
    assert left.manifest.files == right.manifest.files
    assert float(np.abs(left.vectors - right.vectors).max()) <= 1e-5
    for query in QUERIES:
        for mode in ("dense", "bm25", "hybrid"):
            hits = [[p.chunk.chunk_id for p in Retriever(index, embedder).search(query, k=10, mode=mode)]
                    for index in (left, right)]
            assert hits[0] == hits[1], (query, mode)


def test_ray_and_local_engines_build_the_same_index(tmp_path, scifact_docs, local_index, ray_engine, embedder):
    ray_dir = tmp_path / "ray-index"
    report = build_index([scifact_docs], ray_dir, embedder, progress=False, engine=ray_engine)
    assert len(report.files_added) == DOCUMENTS and report.chunks_total > DOCUMENTS
    assert_same_index(local_index, ray_dir, embedder)


def _change_some_files(docs: Path) -> None:
    files = sorted(docs.glob("*.md"))
    for path in files[:3]:
        path.write_text(path.read_text() + "\nAn added closing sentence about sample storage at minus eighty.\n")
    files[3].unlink()
    (docs / "new-a.md").write_text("# A new note\n\nRay embeds only the chunks it has not seen before.\n")
    (docs / "new-b.md").write_text("# Another note\n\nIncremental builds reuse vectors by content hash.\n")


def test_an_incremental_ray_build_embeds_only_unseen_chunks(tmp_path, scifact_docs, local_index, ray_engine,
                                                           embedder):
    import shutil

    docs = tmp_path / "docs"
    shutil.copytree(scifact_docs, docs)
    local_dir, ray_dir = tmp_path / "local", tmp_path / "ray"
    for index_dir, engine in ((local_dir, None), (ray_dir, ray_engine)):
        build_index([docs], index_dir, embedder, progress=False, engine=engine)
    _change_some_files(docs)
    local = build_index([docs], local_dir, embedder, progress=False)
    remote = build_index([docs], ray_dir, embedder, progress=False, engine=ray_engine)
    assert remote.chunks_embedded == local.chunks_embedded
    assert 2 <= remote.chunks_embedded <= 12  # the changed files' last chunks and the two new notes
    assert (sorted(remote.files_updated), sorted(remote.files_added), remote.files_removed) == \
        (sorted(local.files_updated), sorted(local.files_added), local.files_removed)
    assert_same_index(local_dir, ray_dir, embedder)


def _a_living_actor(pid_file: Path, deadline: float) -> int:
    """The first actor in the file that still runs: Ray Data may end an actor it started (seen in CI:
    the first one written had exited by the time of the kill), and killing a pid that is gone tests nothing."""
    while time.time() < deadline:
        for pid in map(int, pid_file.read_text().split()):
            try:
                if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z":
                    return pid
            except OSError:  # gone
                continue
        time.sleep(0.2)
    raise AssertionError("no embedding actor was running to kill")


def test_a_killed_embedding_actor_loses_no_chunk(pid_file, ray_engine, embedder):
    texts = [f"Passage {i}: the trial enrolled {i * 7} patients with condition {i % 13} over {i % 5 + 1} years."
             for i in range(6000)]  # long enough that the kill lands mid-job on an idle machine (1,500 once ended first)
    pid_file.write_text("")
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(vectors=ray_engine.embed(texts, embedder)))
    worker.start()
    deadline = time.time() + 120
    while not pid_file.read_text().split() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # let the actor take batches, so that the kill lands mid-job
    victim = _a_living_actor(pid_file, deadline)
    assert worker.is_alive(), "the job ended before the kill: the test needs more texts"
    os.kill(victim, signal.SIGKILL)
    worker.join(timeout=600)
    assert not worker.is_alive()
    stat = Path(f"/proc/{victim}/stat")
    assert not stat.exists() or stat.read_text().split(")")[-1].split()[0] == "Z", "the killed actor still runs"
    # Ray either starts a replacement actor or hands the lost batches to the surviving one (seen in
    # CI: the survivor finished the job before a replacement was scheduled); either way no row is lost.
    expected = embedder.embed_passages(texts)
    assert result["vectors"].shape == expected.shape
    assert float(np.abs(result["vectors"] - expected).max()) <= 1e-5


def _docs_that_take_a_while(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(40):
        body = "\n\n".join(f"Paragraph {i}-{j} says something distinct about topic {i * 100 + j}. " * 6
                           for j in range(20))
        (root / f"f{i}.md").write_text(f"# File {i}\n\n{body}\n")
    return root


def test_ctrl_c_of_a_ray_build_leaves_the_previous_index(tmp_path, embedder, sigint_reaches_children):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Alpha\n\nThe alpha protocol was signed in 1999.\n")
    index_dir = tmp_path / "index"
    build_index([docs], index_dir, embedder, progress=False)
    before = list(store.load(index_dir).chunks)
    _docs_that_take_a_while(docs / "big")
    from conftest import OnATerminal

    run = OnATerminal([sys.executable, "-m", "rag", "index", str(docs), "--index", str(index_dir), "--engine", "ray"])
    assert run.wait_for("embedding", 180), f"the build ended before it could be interrupted: {run.shown}"
    run.proc.send_signal(signal.SIGINT)
    code = run.finish(120)
    text = run.shown
    assert code == 130, text
    assert "interrupted; any existing index is unchanged" in text and "Traceback" not in text
    assert list(store.load(index_dir).chunks) == before
    assert not [p for p in index_dir.iterdir() if p.name.endswith(".tmp")]


def test_an_unreachable_cluster_is_one_line(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nText.\n")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.time()
    result = _rag("index", str(docs), "--index", str(tmp_path / "i"), "--engine", "ray",
                  "--ray-address", f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"rag: error: cannot reach the Ray cluster at 127.0.0.1:{port}: Connection refused"]
    assert time.time() - started < 30
    assert not (tmp_path / "i").exists()


def test_without_the_extra_the_ray_engine_is_one_line_naming_it(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nText.\n")
    code = ("import sys; sys.modules['ray'] = None\n"
            "from rag.cli import main\n"
            f"sys.exit(main(['index', {str(docs)!r}, '--index', {str(tmp_path / 'i')!r}, '--engine', 'ray']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "rag: error: --engine ray needs Ray: pip install -e '.[ray]'"


def test_ray_options_without_the_ray_engine_are_refused(tmp_path):
    result = _rag("index", str(tmp_path), "--workers", "2")
    assert result.returncode == 2
    assert result.stderr.strip() == "rag: error: --ray-address and --workers need --engine ray"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_rag_index_joins_a_cluster_started_with_ray_start(tmp_path, scifact_docs, local_index, embedder):
    """The README's cluster recipe: `ray start --head`, then `rag index --engine ray --ray-address`."""
    from ray.util import get_node_ip_address

    ray_cli = Path(sys.executable).with_name("ray")
    host, port = get_node_ip_address(), _free_port()  # Ray dials a head by the node's own address
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAG_RAY_ACTOR_PIDS", None)
    env.pop("RAY_AUTH_MODE", None)
    head = subprocess.Popen([str(ray_cli), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                             f"--node-ip-address={host}", "--include-dashboard=false", "--disable-usage-stats"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "head.log", "w"), env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            assert head.poll() is None, (tmp_path / "head.log").read_text()
            try:
                socket.create_connection((host, port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        command = ("index", str(scifact_docs), "--index", str(tmp_path / "index"), "--engine", "ray",
                   "--ray-address", f"{host}:{port}", "--quiet")
        # `ray start` turns on token authentication; a driver without the token is told how to give it
        refused = _rag(*command, env=env)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert refused.stderr.strip().splitlines() == [
            f"rag: error: cannot join the Ray cluster at {host}:{port}: it needs its authentication token; "
            "set RAY_AUTH_MODE=token and put the token in ~/.ray/auth_token or RAY_AUTH_TOKEN (ray get-auth-token)"]
        result = _rag(*command, env={**env, "RAY_AUTH_MODE": "token"}, timeout=600)
        assert result.returncode == 0, result.stderr
        assert f"{DOCUMENTS} added" in result.stdout
        assert "Traceback" not in result.stderr
        assert_same_index(local_index, tmp_path / "index", embedder)
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
        record = Path("/tmp/ray/ray_current_cluster")  # `ray start` leaves it behind; `ray.init()` would dial it
        if record.is_file() and record.read_text().strip().endswith(f":{port}"):
            record.unlink()
