"""The speed benchmark: indexing, retrieval, model start and throughput, answer latency.

    python -m eval.bench --out eval/results/bench.json [--docs 5183] [--large 100000] [--runs 5]

Every figure is a median over `--runs` repetitions in one run on this machine (figures on
shared machines are noisy: compare ratios within a run). Writes JSON and prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "beir_scifact"
QUERIES = ["What is the effect of vitamin D on bone density?", "Which genes are linked to breast cancer?",
           "How does smoking affect lung function?", "What causes antibiotic resistance in bacteria?",
           "Does exercise reduce the risk of heart disease?"]


def _median(values):
    return round(statistics.median(values), 4)


def _p95(values):
    values = sorted(values)
    return round(values[min(len(values) - 1, round(0.95 * (len(values) - 1)))], 4)


def peak_rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 3)


def machine() -> dict:
    from importlib.metadata import version

    return {"cores": os.cpu_count(), "ram_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            **{p: version(p) for p in ("torch", "transformers", "sentence-transformers", "faiss-cpu", "bm25s")}}


def bench_indexing(embedder, docs: int, work: Path) -> dict:
    """Pipeline chunks/s (`rag index` on SciFact abstracts) next to raw encode() on the same texts."""
    from eval.beir_retrieval import write_corpus
    from eval.datasets import load_beir
    from rag import store
    from rag.indexer import build_index

    data = load_beir(SHARED)
    corpus = dict(list(data.corpus.items())[:docs])
    write_corpus(corpus, work / "docs")
    started = time.perf_counter()
    report = build_index([work / "docs"], work / "index", embedder, progress=False)
    pipeline_s = time.perf_counter() - started
    texts = [c.embedding_text() for c in store.load(work / "index").chunks]
    started = time.perf_counter()
    embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, show_progress_bar=False)
    raw_s = time.perf_counter() - started
    return {"documents": docs, "chunks": report.chunks_total, "pipeline_chunks_per_s": round(len(texts) / pipeline_s, 2),
            "raw_encode_chunks_per_s": round(len(texts) / raw_s, 2), "ratio": round(raw_s / pipeline_s, 3)}


def bench_retrieval(retriever, runs: int) -> dict:
    out = {}
    for mode in ("dense", "bm25", "hybrid"):
        times = []
        for _ in range(runs):
            for query in QUERIES:
                started = time.perf_counter()
                retriever.search(query, k=5, mode=mode)
                times.append(1000 * (time.perf_counter() - started))
        out[mode] = {"p50_ms": _median(times), "p95_ms": _p95(times)}
    return out


def synthetic_index(retriever, size: int, work: Path):
    """A `size`-chunk index: real chunk texts reshuffled, vectors = real ones plus noise, renormalised."""
    from dataclasses import replace

    from rag import store
    from rag.indexer import build_dense
    from rag.lexical import build_bm25
    from rag.retrieval import Retriever

    base = retriever.index
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(base.chunks), size)
    chunks = [replace(base.chunks[p], chunk_id=f"s{i}", text=" ".join(rng.permutation(base.chunks[p].text.split())))
              for i, p in enumerate(picks)]
    vectors = base.vectors[picks] + rng.normal(0, 0.02, (size, base.vectors.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    manifest = replace(base.manifest, files={})
    store.check_writable_target(work / "large")
    with store.write_lock(work / "large"):
        store.write_generation(work / "large", manifest, chunks, vectors, build_dense(vectors, "Flat"), build_bm25(chunks))
    return Retriever.open(work / "large", retriever.embedder)


def bench_model(runs: int) -> dict:
    """Warm start from the safetensors cache, prefill and decode tokens/s on a ~1,500-token prompt."""
    import torch

    from rag import generators

    generators.load_generator.cache_clear()
    started = time.perf_counter()
    generator = generators.load_generator(generators.GeneratorConfig(max_new_tokens=64), log=lambda m: None)
    warm = time.perf_counter() - started
    text = (Path(__file__).resolve().parents[1] / "rag" / "sample" / "japan-us-alliance.md").read_text()
    ids = generator.tokenizer(text, return_tensors="pt")["input_ids"][:, :1500]
    prefill, decode = [], []
    with torch.inference_mode():
        for _ in range(runs):
            started = time.perf_counter()
            generator.model(ids)
            prefill.append(ids.shape[1] / (time.perf_counter() - started))
            short = ids[:, :200]
            started = time.perf_counter()
            out = generator.model.generate(short, max_new_tokens=64, min_new_tokens=64, do_sample=False,
                                           pad_token_id=generator.tokenizer.eos_token_id)
            total = time.perf_counter() - started
            decode.append((out.shape[1] - short.shape[1]) / max(total - short.shape[1] / _median(prefill), 1e-6))
    return {"warm_start_s": round(warm, 2), "prompt_tokens": int(ids.shape[1]),
            "prefill_tokens_per_s": _median(prefill), "decode_tokens_per_s": _median(decode),
            "threads": torch.get_num_threads()}


def bench_answers(retriever, questions: Path, limit: int) -> dict:
    from eval.questions import load_jsonl
    from rag.answering import AnswerPipeline
    from rag.generators import load_generator

    pipeline = AnswerPipeline(retriever, load_generator())
    first, total = [], []
    for q in load_jsonl(questions)[:limit]:
        answer = pipeline.ask(q.question)
        first.append(answer.timings["first_token_s"])
        total.append(answer.timings["total_s"])
    return {"questions": len(total), "first_token_p50_s": _median(first), "first_token_p95_s": _p95(first),
            "total_p50_s": _median(total), "total_p95_s": _p95(total)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--docs", type=int, default=5183, help="SciFact abstracts to index")
    parser.add_argument("--large", type=int, default=100_000, help="chunks of the synthetic large index")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--questions", type=Path, default=Path(__file__).with_name("sets") / "sample.jsonl")
    parser.add_argument("--answers", type=int, default=46, help="sample questions to time answers on")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: indexing,retrieval,model,answers")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))

    from rag.cli import load_embedder_once
    from rag.indexer import build_index
    from rag.paths import sample_document
    from rag.retrieval import Retriever

    embedder = load_embedder_once("all-MiniLM-L6-v2")
    result = {"machine": machine(), "runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "indexing" not in skip:
            result["indexing"] = bench_indexing(embedder, args.docs, work)
            print(json.dumps({"indexing": result["indexing"]}), file=sys.stderr)
        if "retrieval" not in skip:
            if not (work / "index").exists():
                bench_indexing(embedder, min(args.docs, 500), work)
            retriever = Retriever.open(work / "index", embedder)
            result["retrieval"] = {f"{retriever.size}_chunks": bench_retrieval(retriever, args.runs)}
            large = synthetic_index(retriever, args.large, work)
            result["retrieval"][f"{large.size}_chunks"] = bench_retrieval(large, args.runs)
            print(json.dumps({"retrieval": result["retrieval"]}), file=sys.stderr)
        if "model" not in skip:
            result["model"] = bench_model(args.runs)
            print(json.dumps({"model": result["model"]}), file=sys.stderr)
        if "answers" not in skip:
            build_index([sample_document()], work / "sample", embedder, progress=False)
            result["answers"] = bench_answers(Retriever.open(work / "sample", embedder), args.questions, args.answers)
    result["peak_rss_gb"] = peak_rss_gb()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
