"""Scale benchmark: the local and Ray engines on the same cores, and search at 100k and 1M chunks.

    python -m eval.bench.scale --out eval/results/scale.json [--parts engines,scale] [--engine-docs 5183]
                               [--sizes 100000,1000000] [--factories "auto;IVF4096,PQ48"] [--update]

The large corpora are SciFact made bigger, since embedding a million real chunks takes 8 hours
here: every SciFact chunk is embedded once by `rag index`; chunk i of a size-N corpus copies a
random SciFact chunk, its words shuffled and about 15% of them dropped (so BM25 sees distinct
texts), and its vector is that chunk's vector plus Gaussian noise (sigma 0.02 per dimension,
about 0.39 in norm), renormalised, so every copy sits near its source but no two are equal.

Each build and each search runs in a fresh process, so that its peak memory is its own. Query
times include the query embedding; recall@10 is the ANN's top 10 against exact search over the
same vectors. Figures are medians of one run on this machine: compare ratios, not absolutes.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from eval.bench.common import SCIFACT, bench_retrieval, environment, in_child, peak_rss_gb

DROP_WORDS = 0.15
NOISE = 0.02


def base_index(work: Path, docs: int) -> Path:
    """SciFact (its first `docs` abstracts) indexed once with the local engine, reused across runs."""
    from eval.datasets import load_beir, write_corpus
    from eval.lab import load_embedder
    from eval.lab import store
    from rag.library import Library
    from rag.settings import Settings

    index_dir = work / f"scifact-{docs}"
    if not store.is_index(index_dir):
        data = load_beir(SCIFACT)
        write_corpus(dict(list(data.corpus.items())[:docs]), work / f"scifact-docs-{docs}")
        Library(Settings(), index_dir, load_embedder()).index([work / f"scifact-docs-{docs}"])
    return index_dir


def _engine_run(engine_name: str, docs_dir: str, index_dir: str, workers: int | None) -> dict:
    """One full `rag index` of the folder (cluster start included for Ray), then the embedding alone."""
    from eval.lab import load_embedder
    from eval.lab import store
    from rag.index.engines import LocalEngine
    from rag.library import Library
    from rag.settings import Settings

    embedder = load_embedder()
    started = time.perf_counter()
    if engine_name == "ray":
        from rag.index.ray_engine import RayEngine

        engine = RayEngine(workers=workers)
    else:
        engine = LocalEngine()
    start_s = time.perf_counter() - started
    report = Library(Settings(), Path(index_dir), embedder).index([Path(docs_dir)], engine)
    total_s = time.perf_counter() - started
    texts = [c.embedding_text() for c in store.load(Path(index_dir)).chunks]
    started = time.perf_counter()
    engine.embed(texts, embedder)  # steady state: the cluster is up, the actors start again
    embed_s = time.perf_counter() - started
    engine.close()
    return {"engine": engine_name, "chunks": report.chunks_total, "start_s": round(start_s, 1),
            "build_s": round(total_s, 1), "build_chunks_per_s": round(report.chunks_total / total_s, 2),
            "embed_s": round(embed_s, 1), "embed_chunks_per_s": round(len(texts) / embed_s, 2),
            "driver_peak_rss_gb": peak_rss_gb()}


def bench_engines(work: Path, docs: int) -> dict:
    """Local and Ray on the same two cores, same documents; the Ray figure includes starting Ray."""
    from eval.datasets import load_beir, write_corpus

    import shutil

    folder = work / f"engine-docs-{docs}"
    write_corpus(dict(list(load_beir(SCIFACT).corpus.items())[:docs]), folder)
    for name in ("local", "ray"):  # a full build each time, never an update of an earlier run's index
        shutil.rmtree(work / f"engine-{name}", ignore_errors=True)
    runs = {name: in_child(_engine_run, name, str(folder), str(work / f"engine-{name}"), None)
            for name in ("local", "ray")}
    local, ray = runs["local"], runs["ray"]
    return {"documents": docs, **runs,
            "ray_vs_local_build": round(ray["build_chunks_per_s"] / local["build_chunks_per_s"], 3),
            "ray_vs_local_embed": round(ray["embed_chunks_per_s"] / local["embed_chunks_per_s"], 3)}


def _build_large(base_dir: str, size: int, target: str, factory: str) -> dict:
    """A `size`-chunk generation from the base (see the module docstring), written as `rag index` writes."""
    from eval.lab import store
    from rag.index.dense import build_dense, resolve_factory
    from rag.index.lexical import build_bm25

    base = store.load(Path(base_dir))
    base_chunks = list(base.chunks)
    rng = np.random.default_rng(size)
    picks = rng.integers(0, len(base_chunks), size)
    started = time.perf_counter()
    chunks = []
    for i, p in enumerate(picks):
        words = base_chunks[p].text.split()
        keep = [w for w in rng.permutation(words) if rng.random() >= DROP_WORDS] or words[:1]
        chunks.append(replace(base_chunks[p], chunk_id=f"s{i}", text=" ".join(keep), content_hash=f"s{i}"))
    vectors = np.asarray(base.vectors)[picks] + rng.normal(0, NOISE, (size, base.vectors.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    make_s = time.perf_counter() - started
    factory = resolve_factory(factory, size, vectors.shape[1])
    started = time.perf_counter()
    dense = build_dense(vectors, factory)
    dense_s = time.perf_counter() - started
    started = time.perf_counter()
    bm25 = build_bm25(chunks)
    bm25_s = time.perf_counter() - started
    started = time.perf_counter()
    store.check_writable_target(Path(target))
    with store.write_lock(Path(target)):
        store.write_generation(Path(target), replace(base.manifest, files={}, faiss_factory=factory),
                               chunks, vectors, dense, bm25)
    write_s = time.perf_counter() - started
    generation = store.live_generation(Path(target))
    sizes = {name: round(sum(f.stat().st_size for f in (generation / name).rglob("*")) / 2**20, 1)
             if (generation / name).is_dir() else round((generation / name).stat().st_size / 2**20, 1)
             for name in ("dense.faiss", "vectors.npy", "chunks.jsonl", "bm25")}
    return {"chunks": size, "faiss": factory, "make_corpus_s": round(make_s, 1), "dense_build_s": round(dense_s, 1),
            "bm25_build_s": round(bm25_s, 1), "write_s": round(write_s, 1), "files_mb": sizes,
            "build_peak_rss_gb": peak_rss_gb()}


def _exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Brute force over the memory-mapped vectors, in blocks."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(vectors), 200_000):
        block = np.asarray(vectors[start:start + 200_000])
        scores = queries @ block.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], axis=1)
        merged_rows = np.concatenate([best_rows, top + start], axis=1)
        keep = np.argsort(-merged_scores, axis=1)[:, :k]
        best_scores, best_rows = np.take_along_axis(merged_scores, keep, 1), np.take_along_axis(merged_rows, keep, 1)
    return best_rows


def _search_run(index_dir: str, queries: list[str], runs: int) -> dict:
    """Open time, per-mode query times (query embedding included), recall@10 against exact, peak RSS."""
    from eval.lab import load_embedder
    from eval.lab import store
    from eval.lab import Retriever

    embedder = load_embedder()
    embedder.embed_query("warm up")
    started = time.perf_counter()
    index = store.load(Path(index_dir))
    open_s = time.perf_counter() - started
    retriever = Retriever(index, embedder)
    out = {"open_s": round(open_s, 3)}
    for mode in ("dense", "bm25", "hybrid"):  # one untimed search each: the first maps the files in
        retriever.search(queries[0], k=10, mode=mode)
    out.update(bench_retrieval(retriever, runs, queries, k=10))
    vectors = np.stack([embedder.embed_query(q) for q in queries]).astype(np.float32)
    exact = _exact_top(index.vectors, vectors, 10)
    recalls = [len(set(retriever.dense(v, 10)[0].tolist()) & set(row.tolist())) / 10 for v, row in zip(vectors, exact)]
    out["recall@10"] = round(statistics.mean(recalls), 4)
    out["search_peak_rss_gb"] = peak_rss_gb()
    return out


def bench_scale(work: Path, base_dir: Path, size: int, factory: str, queries: list[str], runs: int) -> dict:
    target = work / f"large-{size}-{factory.replace(',', '_')}"
    built = in_child(_build_large, str(base_dir), size, str(target), factory)
    searched = in_child(_search_run, str(target), queries, runs)
    import shutil

    shutil.rmtree(target, ignore_errors=True)
    return {**built, **searched}


def table(result: dict) -> str:
    rows = [("machine", f"{result['machine']['cores']} cores, {result['machine']['ram_gb']} GB RAM, "
                        f"OPENBLAS_CORETYPE {result['machine']['OPENBLAS_CORETYPE']}")]
    if e := result.get("engines"):
        for name in ("local", "ray"):
            r = e[name]
            rows.append((f"{name} engine, {e['documents']} SciFact docs ({r['chunks']} chunks)",
                         f"build {r['build_s']} s = {r['build_chunks_per_s']} chunks/s (start {r['start_s']} s); "
                         f"embedding alone {r['embed_chunks_per_s']} chunks/s; driver peak RSS {r['driver_peak_rss_gb']} GB"))
        rows.append(("Ray / local throughput", f"whole build {e['ray_vs_local_build']}x, embedding {e['ray_vs_local_embed']}x"))
    for s in result.get("scale", []):
        name = f"{s['chunks']:,} chunks, {s['faiss']}"
        rows += [(f"{name}: build", f"dense {s['dense_build_s']} s, BM25 {s['bm25_build_s']} s, write {s['write_s']} s, "
                                    f"peak RSS {s['build_peak_rss_gb']} GB; files MB {s['files_mb']}"),
                 (f"{name}: open", f"{s['open_s']} s"),
                 (f"{name}: query (embedding included)",
                  ", ".join(f"{m} p50 {s[m]['p50_ms']:.1f} / p95 {s[m]['p95_ms']:.1f} ms" for m in ("dense", "bm25", "hybrid"))),
                 (f"{name}: recall@10 vs exact, search peak RSS", f"{s['recall@10']}, {s['search_peak_rss_gb']} GB")]
    return "| figure | value |\n|---|---|\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(item) for item in text.split(",") if item]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1000:
        raise argparse.ArgumentTypeError(f"expected comma-separated chunk counts of at least 1000, got {text!r}")
    return sizes


def main(argv=None) -> int:
    from eval.datasets import load_beir
    from eval.lab import prefer_offline
    from rag.errors import UserError
    from rag.settings import Parser, positive_int

    prefer_offline()
    parser = Parser(prog="python -m eval.bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-bench-scale"), help="where corpora and indexes go")
    parser.add_argument("--engine-docs", type=positive_int, default=5183, help="SciFact abstracts for the engine race")
    parser.add_argument("--sizes", type=_sizes, default="100000,1000000", help="comma-separated corpus sizes in chunks")
    parser.add_argument("--factories", default="auto", help="semicolon-separated FAISS factories to try at each size")
    parser.add_argument("--queries", type=positive_int, default=100, help="SciFact queries to time and score")
    parser.add_argument("--runs", type=positive_int, default=3)
    parser.add_argument("--parts", choices=("engines", "scale", "engines,scale"), default="engines,scale")
    parser.add_argument("--update", action="store_true", help="keep earlier figures in --out; add these")
    args = parser.parse_args(argv)
    try:
        sizes = args.sizes
        args.work.mkdir(parents=True, exist_ok=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails now, not after an hour
        args.out.with_suffix(".partial").write_text("", encoding="utf-8")
        args.out.with_suffix(".partial").unlink()
        result = json.loads(args.out.read_text()) if args.update and args.out.is_file() else {}
        result["machine"] = environment()
        if "engines" in args.parts:
            result["engines"] = bench_engines(args.work, args.engine_docs)
            print(json.dumps(result["engines"]), file=sys.stderr)
        base = in_child(base_index, args.work, 5183) if "scale" in args.parts else None
        queries = list(load_beir(SCIFACT).queries.values())[:args.queries]
        scale = [s for s in result.get("scale", []) if not any(
            s["chunks"] == n and s.get("asked") == f for n in sizes for f in args.factories.split(";"))]
        for size in sizes if "scale" in args.parts else []:
            for factory in args.factories.split(";"):
                figures = {"asked": factory, **bench_scale(args.work, base, size, factory, queries, args.runs)}
                print(json.dumps(figures), file=sys.stderr)
                scale.append(figures)
                result["scale"] = sorted(scale, key=lambda s: (s["chunks"], s["asked"]))
                args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        args.out.with_suffix(".md").write_text(table(result), encoding="utf-8")
        print(table(result))
        return 0
    except (UserError, OSError, ValueError) as exc:
        print(f"python -m eval.bench.scale: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
