"""The index folder: incremental updates, atomic writes, retrieval on the sample, bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.index import store
from rag.errors import UserError
from rag.index.indexer import build_index
from rag.index.retrieval import Retriever
from rag.settings import Settings

DOCS = {
    "a.md": "# Alpha\n\nApples grow on trees in orchards.\n\n## Care\n\nPrune apple trees in winter.\n",
    "b.md": "# Beta\n\nBees make honey from nectar.\n",
    "sub/c.txt": "Comets have tails of gas and dust.\n",
}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def _texts(index_dir: Path) -> set[str]:
    return {c.text for c in store.load(index_dir).chunks}


def test_incremental_add_change_delete(tmp_path, embedder):
    docs = _write(tmp_path / "docs", DOCS)
    index_dir = tmp_path / "index"
    first = build_index([docs], index_dir, embedder, progress=False)
    assert (len(first.files_added), first.chunks_embedded, first.chunks_total) == (3, 4, 4)

    again = build_index([docs], index_dir, embedder, progress=False)
    assert (again.files_unchanged, again.chunks_embedded, again.chunks_added, again.chunks_removed) == (3, 0, 0, 0)

    (docs / "b.md").write_text("# Beta\n\nBees make honey from nectar.\n\nWasps do not.\n", encoding="utf-8")
    (docs / "sub/c.txt").unlink()
    _write(docs, {"d.html": "<h1>Delta</h1><p>Rivers end in deltas.</p>"})
    update = build_index([docs], index_dir, embedder, progress=False)
    assert update.files_updated == [str((docs / "b.md").resolve())]
    assert update.files_removed == [str((docs / "sub/c.txt").resolve())]
    assert update.files_added == [str((docs / "d.html").resolve())]
    assert update.chunks_embedded == 2  # the changed b.md chunk and the new d.html chunk only
    texts = _texts(index_dir)
    assert "Comets have tails of gas and dust." not in texts
    assert {"Bees make honey from nectar.\nWasps do not.", "Rivers end in deltas."} <= texts

    manifest = store.read_manifest(index_dir)
    assert manifest.embedding_model == "all-MiniLM-L6-v2" and manifest.dimension == 384
    assert set(manifest.files) == {str((docs / n).resolve()) for n in ("a.md", "b.md", "d.html")}
    index = store.load(index_dir)
    np.testing.assert_allclose(np.linalg.norm(index.vectors, axis=1), 1.0, rtol=1e-5)


def test_a_failed_write_leaves_the_previous_index(tmp_path, embedder, monkeypatch):
    docs = _write(tmp_path / "docs", DOCS)
    index_dir = tmp_path / "index"
    build_index([docs], index_dir, embedder, progress=False)
    before = _texts(index_dir)
    _write(docs, {"e.md": "# Echo\n\nEchoes return from cliffs.\n"})

    import faiss

    def broken_write(*args):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-write

    monkeypatch.setattr(faiss, "write_index", broken_write)
    with pytest.raises(KeyboardInterrupt):
        build_index([docs], index_dir, embedder, progress=False)
    monkeypatch.undo()
    assert _texts(index_dir) == before
    assert not [p for p in index_dir.iterdir() if p.name.endswith(".tmp")]


def _rag(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, timeout=300, **kwargs)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_build_leaves_the_previous_index(tmp_path, embedder, how, sigint_reaches_children):
    docs = _write(tmp_path / "docs", DOCS)
    index_dir = tmp_path / "index"
    build_index([docs], index_dir, embedder, progress=False)
    before = _texts(index_dir)
    big = tmp_path / "docs" / "big"
    big.mkdir()
    for i in range(40):
        body = "\n\n".join(  # paragraphs long enough not to be merged: hundreds of chunks to embed
            f"Paragraph {i}-{j} says something distinct about topic {i * 100 + j}. " * 6 for j in range(20))
        (big / f"f{i}.md").write_text(f"# File {i}\n\n{body}\n")
    from conftest import OnATerminal

    run = OnATerminal([sys.executable, "-m", "rag", "index", str(docs), "--index", str(index_dir)])
    assert run.wait_for("embedding", 120), "the build finished before it could be interrupted"
    run.proc.send_signal(how)
    code = run.finish(60)
    shown = run.shown
    if how == signal.SIGINT:
        assert code == 130
        assert "interrupted; any existing index is unchanged" in shown
        assert "Traceback" not in shown
    else:
        assert code == -signal.SIGKILL
    assert _texts(index_dir) == before
    # The next build cleans up what the killed one left and completes.
    report = build_index([docs], index_dir, embedder, progress=False)
    assert len(report.files_added) == 40
    assert not [p for p in index_dir.iterdir() if p.name.endswith(".tmp")]


def test_sample_questions_find_their_sections(sample_retriever):
    top = sample_retriever.search(
        "Which article of the treaty obliges Japan and the U.S. to act together if Japan is attacked?", k=5)[0]
    assert top.chunk.section[-1] == "1 Maintenance of Japan's Peace and Security"
    assert "Article 5" in top.chunk.text
    top = sample_retriever.search("What years were the defense cooperation guidelines formulated?", k=5)[0]
    assert top.chunk.section[-1] == "1 Background to the Formulation of the Guidelines"


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_ranks_with_scores(sample_retriever, mode):
    passages = sample_retriever.search("Okinawa living environment of local residents", k=3, mode=mode)
    assert passages[0].rank == 1 and "Okinawa" in passages[0].chunk.text
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0


def test_hybrid_search_fuses_scores_so_a_sure_list_keeps_its_margin(sample_retriever, monkeypatch):
    """Relative score fusion (`--fusion relative`) keeps BM25's clear lead on "increasingly severe";
    fused by ranks alone (rrf, the default), the dense list's middling passages push it out of the top 4."""
    question = "How is the security environment surrounding Japan described?"

    def found(fusion: str) -> bool:
        monkeypatch.setattr(sample_retriever, "fusion", fusion)
        return any("increasingly severe" in p.chunk.text for p in sample_retriever.search(question, k=4))

    assert Settings().fusion == "rrf" and sample_retriever.fusion == "rrf"
    assert found("relative") and not found("rrf")


def test_search_json_output(sample_index):
    result = _rag("search", "When were the first Guidelines formulated?", "--index", str(sample_index), "--json", "-k", "3")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert set(found) == {"passages", "documents", "flagged"} and found["flagged"] == []
    hits = found["passages"]
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert set(hits[0]) == {"rank", "score", "chunk_id", "source", "section", "document", "page", "text"}
    assert "1978" in " ".join(h["text"] for h in hits)


def test_default_index_is_built_from_the_sample(tmp_path):
    env = {**os.environ, "RAG_HOME": str(tmp_path / "home")}
    result = _rag("search", "Okinawa", "--json", "-k", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["passages"][0]["source"].endswith("japan-us-alliance.md")
    assert [p.name.startswith("sample-") and store.is_index(p) for p in (tmp_path / "home" / "indexes").iterdir()] == [True]


def test_default_index_follows_the_sample_it_runs_from(tmp_path, embedder):
    """An index built by another checkout's sample must not show that checkout's path as a source."""
    import shutil

    from rag import paths
    from rag.assemble import resolve_index

    other_checkout = tmp_path / "old-checkout" / paths.SAMPLE_NAME
    other_checkout.parent.mkdir()
    shutil.copy(paths.sample_document(), other_checkout)
    build_index([other_checkout], paths.default_index_dir(), embedder, progress=False)
    shutil.rmtree(other_checkout.parent)
    index_dir = resolve_index(None, embedder, log=lambda m: None)
    assert set(store.read_manifest(index_dir).files) == {str(paths.sample_document())}
    assert {c.source for c in store.load(index_dir).chunks} == {str(paths.sample_document())}


class OtherEmbedder:
    """A different embedding model, for the mismatch check only."""

    name, dimension, max_tokens = "other-model", 384, 256


def test_opening_with_another_embedding_model_is_an_error(sample_index):
    with pytest.raises(UserError, match="built with embedding model 'all-MiniLM-L6-v2'"):
        Retriever.open(sample_index, OtherEmbedder())


def _bad_inputs(tmp_path: Path, sample_index: Path) -> dict[str, tuple[list[str], str]]:
    (tmp_path / "empty.md").write_text("")
    (tmp_path / "junk.txt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "picture.png").write_bytes(b"\x89PNG")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("my own files")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "CURRENT").write_text("gen-missing\n")
    idx = str(sample_index)
    return {
        "missing path": (["index", str(tmp_path / "nope.md"), "--index", str(tmp_path / "i1")], "no such file"),
        "empty file": (["index", str(tmp_path / "empty.md"), "--index", str(tmp_path / "i2")], "nothing readable"),
        "binary junk": (["index", str(tmp_path / "junk.txt"), "--index", str(tmp_path / "i3")], "nothing readable"),
        "nothing readable": (["index", str(tmp_path / "nothing"), "--index", str(tmp_path / "i4")], "nothing readable"),
        "empty query": (["search", "", "--index", idx], "question is empty"),
        "whitespace query": (["search", "  \t ", "--index", idx], "question is empty"),
        "k zero": (["search", "x", "-k", "0", "--index", idx], "at least 1"),
        "k not a number": (["search", "x", "-k", "many", "--index", idx], "whole number"),
        "missing index": (["search", "x", "--index", str(tmp_path / "none")], "no index at"),
        "foreign index": (["search", "x", "--index", str(foreign)], "not a rag index"),
        "corrupt index": (["search", "x", "--index", str(corrupt)], "corrupt"),
        "index into a foreign folder": (["index", str(tmp_path / "empty.md"), "--index", str(foreign)], "not a rag index"),
        "unknown mode": (["search", "x", "--mode", "magic", "--index", idx], "invalid choice"),
        "unknown precision": (["ask", "x", "--precision", "int4", "--index", idx], "invalid choice"),
    }


BAD_INPUT_CASES = ["missing path", "empty file", "binary junk", "nothing readable", "empty query", "whitespace query",
                   "k zero", "k not a number", "missing index", "foreign index", "corrupt index",
                   "index into a foreign folder", "unknown mode", "unknown precision"]


@pytest.mark.parametrize("case", BAD_INPUT_CASES)
def test_bad_input_is_one_line_and_nonzero(tmp_path, sample_index, case, capsys):
    from rag.cli import main

    argv, expected = _bad_inputs(tmp_path, sample_index)[case]
    before = sorted(p.name for p in sample_index.iterdir())
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own exit
        code = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("skipped ")]
    assert code != 0
    assert len(lines) == 1 and expected in lines[0], err
    assert sorted(p.name for p in sample_index.iterdir()) == before
    foreign = tmp_path / "foreign" / "notes.txt"
    assert foreign.read_text() == "my own files"


def test_bad_input_from_the_real_command_has_no_traceback(tmp_path):
    result = _rag("index", str(tmp_path / "missing.md"), "--index", str(tmp_path / "idx"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"rag: error: no such file or folder: {tmp_path / 'missing.md'}"]


def test_skipped_files_are_named_and_the_rest_indexed(tmp_path, embedder, capsys):
    docs = _write(tmp_path / "docs", {"good.md": "# G\n\nGood text here.\n"})
    (docs / "junk.txt").write_bytes(bytes(range(256)) * 4)
    messages = []
    report = build_index([docs], tmp_path / "index", embedder, warn=messages.append, progress=False)
    assert report.chunks_total == 1 and report.files_skipped == [str((docs / "junk.txt").resolve())]
    assert len(messages) == 1 and "junk.txt" in messages[0] and "binary" in messages[0]


def test_faiss_factory_strings(tmp_path, embedder):
    docs = _write(tmp_path / "docs", DOCS)
    build_index([docs], tmp_path / "hnsw", embedder, faiss_factory="HNSW16", progress=False)
    retriever = Retriever.open(tmp_path / "hnsw", embedder)
    assert "honey" in retriever.search("Who makes honey?", k=1, mode="dense")[0].chunk.text
    with pytest.raises(UserError, match="invalid FAISS factory"):
        build_index([docs], tmp_path / "bad", embedder, faiss_factory="NoSuchIndex", progress=False)


def test_auto_factory_is_exact_for_small_corpora_and_hnsw_for_large(tmp_path, embedder):
    from rag.index.dense import HNSW_EF_SEARCH, HNSW_FROM_CHUNKS, hnsw_bytes, resolve_factory

    gib = 2**30
    assert resolve_factory("auto", HNSW_FROM_CHUNKS - 1, 384, 24 * gib) == "Flat"
    assert resolve_factory("auto", HNSW_FROM_CHUNKS, 384, 24 * gib) == "HNSW32"
    assert resolve_factory("auto", 1_000_000, 384, 24 * gib) == "HNSW32"  # 1.7 GB of HNSW fits in a quarter
    assert resolve_factory("auto", 1_000_000, 384, 4 * gib) == "IVF4096,PQ48"  # it does not in a quarter of 4 GB
    assert resolve_factory("auto", 1_000_000, 768, 24 * gib) == "HNSW32"
    assert resolve_factory("auto", 10_000_000, 768, 24 * gib) == "IVF16384,PQ96"
    assert 1.6 * gib < hnsw_bytes(1_000_000, 384) < 1.8 * gib
    assert resolve_factory("IVF4,Flat", 10) == "IVF4,Flat"
    docs = _write(tmp_path / "docs", DOCS)
    build_index([docs], tmp_path / "auto", embedder, progress=False)
    assert store.load(tmp_path / "auto").manifest.faiss_factory == "Flat"
    build_index([docs], tmp_path / "hnsw", embedder, faiss_factory="HNSW16", progress=False)
    import faiss

    reloaded = faiss.downcast_index(store.load(tmp_path / "hnsw").dense)
    assert reloaded.hnsw.efSearch == HNSW_EF_SEARCH  # the wider beam survives saving


def test_bm25_top_k_matches_bm25s_ranking():
    """Our top-k over non-zero scores gives bm25s's own ranking, ties broken by row."""
    import bm25s

    from rag.index.lexical import bm25_search, tokenize

    rng = np.random.default_rng(1)
    words = ["alliance", "treaty", "article", "defense", "japan", "guidelines", "security", "base"]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(1, 6)))) for _ in range(300)]
    texts += ["unrelated words only"] * 50
    index = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    index.index(tokenize(texts), show_progress=False)
    for query in ("treaty article", "japan security base", "guidelines", "nothing matches here"):
        rows, scores = bm25_search(index, query, 20, len(texts))
        full = index.get_scores(tokenize([query])[0] or ["none"])
        assert np.all(scores > 0) and np.all(np.diff(scores) <= 0)
        expected = sorted(np.flatnonzero(full > 0), key=lambda r: (-full[r], r))[:20]
        assert rows.tolist() == expected
    assert len(bm25_search(index, "the of and", 5, len(texts))[0]) == 0  # only stopwords


@pytest.mark.parametrize("method", ["lucene", "bm25+"])
def test_bm25_scores_are_bm25s_own(method):
    """The one-pass scoring gives bm25s's scores, including BM25+'s non-occurrence term."""
    import bm25s

    from rag.index.lexical import bm25_scores, tokenize

    rng = np.random.default_rng(2)
    vocabulary = [f"term{i}" for i in range(400)]
    texts = [" ".join(rng.choice(vocabulary, size=int(rng.integers(3, 40)))) for _ in range(5000)]
    index = bm25s.BM25(k1=1.2, b=0.75, method=method)
    index.index(tokenize(texts), show_progress=False)
    for _ in range(20):
        ids = index.get_tokens_ids(tokenize([" ".join(rng.choice(vocabulary, size=5))])[0])
        np.testing.assert_allclose(bm25_scores(index, ids), index.get_scores_from_ids(ids), rtol=1e-5, atol=1e-6)


def _synthetic_generation(index_dir: Path, vectors: np.ndarray, factory: str) -> None:
    from rag.index.dense import build_dense
    from rag.index.lexical import build_bm25
    from rag.records import Chunk

    chunks = [Chunk(f"c{i}", "synthetic.md", ("Synthetic",), f"passage {i} about topic {i % 97}", 0, 1,
                    content_hash=f"h{i}") for i in range(len(vectors))]
    manifest = store.Manifest(embedding_model="all-MiniLM-L6-v2", dimension=vectors.shape[1], query_prefix="",
                              passage_prefix="", max_tokens=256, chunker={}, faiss_factory=factory)
    index_dir.mkdir(parents=True)
    store.write_generation(index_dir, manifest, chunks, vectors, build_dense(vectors, factory), build_bm25(chunks))


def test_pq_candidates_are_rescored_from_the_exact_vectors(tmp_path, embedder):
    """IVF-PQ scores are approximate; the retriever re-scores its candidates, so the top 10 are exact."""
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((40, 384)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, 4000)] + 0.6 * rng.standard_normal((4000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    _synthetic_generation(tmp_path / "index", vectors, "IVF64,PQ48x4")  # 4-bit codes: 5 s to train, not 75
    retriever = Retriever(store.load(tmp_path / "index"), embedder)
    recalls = []
    for query in vectors[rng.integers(0, 4000, 30)] + 0.3 * rng.standard_normal((30, 384)).astype(np.float32):
        query = (query / np.linalg.norm(query)).astype(np.float32)
        rows, scores = retriever.dense(query, 10)
        np.testing.assert_allclose(scores, vectors[rows] @ query, atol=1e-5)  # exact scores, best first
        assert np.all(np.diff(scores) <= 0)
        recalls.append(len(set(rows) & set(np.argsort(-(vectors @ query))[:10])) / 10)
    assert np.mean(recalls) >= 0.95, recalls


def test_an_opened_index_maps_its_files_and_reads_chunks_on_demand(tmp_path, embedder):
    docs = _write(tmp_path / "docs", DOCS)
    build_index([docs], tmp_path / "index", embedder, progress=False)
    index = store.load(tmp_path / "index")
    assert isinstance(index.chunks, store.ChunkTable) and isinstance(index.vectors, np.memmap)
    with open(index.path / "chunks.jsonl", encoding="utf-8") as fh:
        written = [json.loads(line) for line in fh]
    assert [c.to_json() for c in index.chunks] == written
    assert index.chunks[-1].to_json() == written[-1]
    assert [c.to_json() for c in index.chunks[1:3]] == written[1:3]
    with pytest.raises(IndexError):
        index.chunks[len(written)]
    # offsets that no longer match the chunks file mean a damaged index, said in one line
    np.save(index.path / "chunks.offsets.npy", np.array([0, 5], dtype=np.int64))
    with pytest.raises(UserError, match="is corrupt"):
        store.load(tmp_path / "index")
