"""The speed benchmark: indexing, retrieval, model start and throughput, answer latency.

    python -m eval.bench --out eval/results/bench.json [--docs 5183] [--large 100000] [--runs 5]

The `scale` part (eval/bench/scale.py: local vs Ray engine, search at 100k and 1M chunks) writes
scale.json and scale.md beside --out.

Every figure is a median over `--runs` repetitions in one run on this machine (figures on
shared machines are noisy: compare ratios within a run); indexing is one pass over all the
chunks. Each model setup starts in its own process, so that its start time and peak memory are
its own. Writes JSON, and the same figures as a Markdown table next to it (`.md`).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eval import EVAL_DIR, ROOT
from eval.bench.common import (SCIFACT, bench_retrieval, environment, in_child, median, p95,
                               peak_rss_gb)
from eval.datasets import dataset_dir

REPORTS = dataset_dir("us_fed_agency_reports_2022")



def bench_indexing(embedder, docs: int, work: Path) -> tuple[dict, object, dict]:
    """Pipeline chunks/s (`rag index` on SciFact abstracts) next to raw encode() on the same texts."""
    from eval.datasets import load_beir, write_corpus
    from eval.lab import store
    from rag.library import Library
    from rag.settings import Settings

    data = load_beir(SCIFACT)
    corpus = dict(list(data.corpus.items())[:docs])
    stems = write_corpus(corpus, work / "docs")
    started = time.perf_counter()
    report = Library(Settings(), work / "index", embedder).index([work / "docs"])
    pipeline_s = time.perf_counter() - started
    texts = [c.embedding_text() for c in store.load(work / "index").chunks]
    started = time.perf_counter()
    embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, show_progress_bar=False)
    raw_s = time.perf_counter() - started
    figures = {"documents": docs, "chunks": report.chunks_total,
               "pipeline_chunks_per_s": round(len(texts) / pipeline_s, 2),
               "raw_encode_chunks_per_s": round(len(texts) / raw_s, 2), "ratio": round(raw_s / pipeline_s, 3)}
    return figures, data, stems


def ann_quality(retriever, data, stems: dict) -> dict:
    """SciFact nDCG@10 with exact search and with HNSW over the same vectors: what the ANN costs."""
    from eval.bench.beir import ranked_documents
    from eval.metrics import ndcg_at_k
    from rag.index.dense import HNSW_FACTORY, build_dense

    queries = {qid: q for qid, q in data.queries.items() if qid in data.qrels and
               any(doc in set(stems.values()) for doc in data.qrels[qid])}
    out = {"queries": len(queries)}
    exact = retriever.index.dense
    for name, index in (("Flat", exact), (HNSW_FACTORY, build_dense(retriever.index.vectors, HNSW_FACTORY))):
        retriever.index.dense = index
        for mode in ("dense", "hybrid"):
            scores = [ndcg_at_k(ranked_documents(retriever.search(q, k=10, mode=mode), stems), data.qrels[qid], 10)
                      for qid, q in queries.items()]
            out[f"{mode}_ndcg@10_{name}"] = round(statistics.mean(scores), 4)
    retriever.index.dense = exact
    return out


def synthetic_index(retriever, size: int, work: Path):
    """A `size`-chunk index: real chunk texts reshuffled, vectors = real ones plus noise, renormalised."""
    from dataclasses import replace

    from eval.lab import store
    from rag.index.dense import build_dense, resolve_factory
    from rag.index.lexical import build_bm25
    from eval.lab import Retriever

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
        started = time.perf_counter()
        dense = build_dense(vectors, "auto")
        build_s = time.perf_counter() - started
        store.write_generation(work / "large", replace(manifest, faiss_factory=resolve_factory("auto", size)),
                               chunks, vectors, dense, build_bm25(chunks))
    return Retriever.open(work / "large", retriever.embedder), build_s


def bench_model(runs: int, precision: str, cold: bool) -> dict:
    """Start (cold: from the GGUF into an empty cache), prefill and decode tokens/s, this process's peak RSS.

    Run in a child process (`in_child`) so that each setup's start and peak memory are its own.
    """
    import torch

    from eval.lab import load_generator, prefer_offline
    from rag.settings import Settings

    prefer_offline()
    if cold:
        os.environ["RAG_MODEL_CACHE"] = tempfile.mkdtemp(prefix="bench-cold-")
    started = time.perf_counter()
    generator = load_generator(Settings(max_new_tokens=64, precision=precision), embedder=None, log=lambda m: None)
    start_s = time.perf_counter() - started
    text = (ROOT / "rag" / "sample" / "japan-us-alliance.md").read_text()
    ids = generator.tokenizer(text, return_tensors="pt")["input_ids"][:, :1500]
    prefill, decode = [], []
    with torch.inference_mode():
        for _ in range(runs):
            started = time.perf_counter()
            generator.model(ids, logits_to_keep=1)  # as generate() does: no logits for the prompt
            prefill.append(ids.shape[1] / (time.perf_counter() - started))
            short = ids[:, :200]
            started = time.perf_counter()
            out = generator.model.generate(short, max_new_tokens=64, min_new_tokens=64, do_sample=False,
                                           pad_token_id=generator.tokenizer.eos_token_id)
            total = time.perf_counter() - started
            decode.append((out.shape[1] - short.shape[1]) / max(total - short.shape[1] / median(prefill), 1e-6))
    if cold:
        shutil.rmtree(os.environ["RAG_MODEL_CACHE"], ignore_errors=True)
    return {"precision": precision, ("cold_start_s" if cold else "warm_start_s"): round(start_s, 2),
            "prompt_tokens": int(ids.shape[1]), "prefill_tokens_per_s": median(prefill),
            "decode_tokens_per_s": median(decode), "threads": torch.get_num_threads(), "peak_rss_gb": peak_rss_gb()}


def bench_llamacpp(runs: int) -> dict:
    """llama.cpp on the same GGUF, 2 threads: the practical speed limit for this model on this CPU."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return {"skipped": "llama-cpp-python is not installed (pip install -e '.[llamacpp]')"}
    from rag.generate import model_files

    gguf = model_files.assemble(model_files.QWEN_0_5B)
    started = time.perf_counter()
    llm = Llama(model_path=str(gguf), n_ctx=2048, n_threads=os.cpu_count(), verbose=False)
    load_s = time.perf_counter() - started
    text = (ROOT / "rag" / "sample" / "japan-us-alliance.md").read_text()
    tokens = llm.tokenize(text.encode())[:1500]
    prefill, decode = [], []
    for _ in range(runs):
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        prefill.append(len(tokens) / (time.perf_counter() - started))
        llm.reset()
        llm.eval(tokens[:200])
        started = time.perf_counter()
        for _ in range(64):
            llm.eval([llm.sample(top_k=1)])
        decode.append(64 / (time.perf_counter() - started))
    model_files.discard_assembled(model_files.QWEN_0_5B)
    return {"load_s": round(load_s, 2), "prompt_tokens": len(tokens), "prefill_tokens_per_s": median(prefill),
            "decode_tokens_per_s": median(decode), "threads": os.cpu_count(), "peak_rss_gb": peak_rss_gb()}


def bench_answers(questions: Path, limit: int, precision: str, model: str | None = None,
                  answerability: str = "auto") -> dict:
    """First-token and total latency over the sample set with the default answer settings; peak RSS of it all.
    `model`: another model to answer with (None: the default); `answerability`: with the trained head
    where there is one (auto), or without it (signals)."""
    from eval.questions import load_jsonl
    from eval.lab import build_pipeline, load_embedder, prefer_offline
    from rag.library import Library
    from eval.lab import sample_document
    from rag.settings import Settings

    prefer_offline()
    with tempfile.TemporaryDirectory() as tmp:
        Library(Settings(), Path(tmp) / "sample", load_embedder()).index([sample_document()])
        pipeline = build_pipeline(Settings(precision=precision, model=model, answerability=answerability),
                                  Path(tmp) / "sample")
        first, total = [], []
        for q in load_jsonl(questions)[:limit]:
            answer = pipeline.ask(q.question)
            first.append(answer.timings["first_token_s"])
            total.append(answer.timings["total_s"])
    return {"model": pipeline.generator.name, "precision": precision, "answerability": answerability,
            "head": pipeline.decision.head is not None, "questions": len(total), "first_token_p50_s": median(first),
            "first_token_p95_s": p95(first), "total_p50_s": median(total), "total_p95_s": p95(total),
            "peak_rss_gb": peak_rss_gb()}


def bench_reading(runs: int, folder: Path = REPORTS) -> dict:
    """Pages per second of `read_blocks` (PDFium, layout included) over the agency reports, and of
    pypdf's bare text extraction on the same files for reference when pypdf is installed."""
    from eval.lab import read_blocks

    files = sorted(folder.glob("*.pdf"))
    if not files:
        return {"skipped": f"no PDFs in {folder}"}
    pages = sum(max(b.page or 0 for b in read_blocks(f)) for f in files)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        for f in files:
            read_blocks(f)
        times.append(time.perf_counter() - started)
    result = {"files": len(files), "pages": pages, "pages_per_s": round(pages / median(times), 1)}
    try:
        from pypdf import PdfReader
    except ImportError:
        return result
    started = time.perf_counter()
    for f in files:
        for page in PdfReader(str(f)).pages:
            page.extract_text()
    result["pypdf_text_pages_per_s"] = round(pages / (time.perf_counter() - started), 1)
    return result


def table(result: dict) -> str:
    """The JSON as a readable Markdown table, one figure per row."""
    rows = [("machine", f"{result['machine']['cores']} cores, {result['machine']['ram_gb']} GB RAM, "
                        f"torch {result['machine']['torch']}, runs {result['runs']}")]
    if (r := result.get("reading")) and "skipped" not in r:
        rows.append((f"PDF reading ({r['files']} agency reports, {r['pages']} pages)",
                     f"{r['pages_per_s']} pages/s" + (f" (pypdf text alone: {r['pypdf_text_pages_per_s']} pages/s)"
                                                      if "pypdf_text_pages_per_s" in r else "")))
    if "indexing" in result:
        i = result["indexing"]
        rows += [(f"indexing ({i['documents']} docs, {i['chunks']} chunks)",
                  f"{i['pipeline_chunks_per_s']} chunks/s vs raw encode {i['raw_encode_chunks_per_s']}/s: "
                  f"ratio {i['ratio']}")]
    for size, modes in result.get("retrieval", {}).items():
        for mode in ("dense", "bm25", "hybrid"):
            rows.append((f"retrieval {mode} @ {size.replace('_', ' ')}",
                         f"p50 {modes[mode]['p50_ms']:.1f} ms, p95 {modes[mode]['p95_ms']:.1f} ms"))
        if "faiss" in modes:
            rows.append((f"dense index @ {size.replace('_', ' ')}", f"{modes['faiss']}, built in {modes['dense_build_s']} s"))
    if quality := result.get("ann_quality"):
        rows.append((f"SciFact nDCG@10, exact vs HNSW32 ({quality['queries']} queries)",
                     f"dense {quality['dense_ndcg@10_Flat']} vs {quality['dense_ndcg@10_HNSW32']}, "
                     f"hybrid {quality['hybrid_ndcg@10_Flat']} vs {quality['hybrid_ndcg@10_HNSW32']}"))
    for m in result.get("model", []):
        start = f"cold start {m['cold_start_s']} s" if "cold_start_s" in m else f"warm start {m['warm_start_s']} s"
        rows.append((f"model {m['precision']}", f"{start}, prefill {m['prefill_tokens_per_s']:.0f} tok/s "
                     f"({m['prompt_tokens']} tokens), decode {m['decode_tokens_per_s']:.1f} tok/s, "
                     f"peak RSS {m['peak_rss_gb']} GB"))
    if (llama := result.get("llamacpp")) and "skipped" not in llama:
        rows.append(("llama.cpp (same GGUF)", f"load {llama['load_s']} s, prefill {llama['prefill_tokens_per_s']:.0f} tok/s, "
                     f"decode {llama['decode_tokens_per_s']:.1f} tok/s, peak RSS {llama['peak_rss_gb']} GB"))
    elif llama:
        rows.append(("llama.cpp", llama["skipped"]))
    for a in result.get("answers", []):
        head = {True: ", with the head", False: ", without a head"}.get(a.get("head"), "")
        rows.append((f"answers {a['model'] + ' ' if 'model' in a else ''}{a['precision']}{head} "
                     f"({a['questions']} questions)",
                     f"first token p50 {a['first_token_p50_s']:.2f} s (p95 {a['first_token_p95_s']:.2f}), "
                     f"total p50 {a['total_p50_s']:.2f} s (p95 {a['total_p95_s']:.2f}), peak RSS {a['peak_rss_gb']} GB"))
    return "| figure | value |\n|---|---|\n" + "".join(f"| {name} | {value} |\n" for name, value in rows)


PARTS = ("reading", "indexing", "retrieval", "model", "answers", "scale")


def _names(text: str) -> list[str]:
    """Model names checked before anything slow starts: bundled, a local path, or a hub id (org/name)."""
    from rag.generate.model_files import BUNDLED

    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated model names, none empty")
    for name in names:
        if name not in BUNDLED and not Path(name).exists() and "/" not in name:
            raise argparse.ArgumentTypeError(f"{name!r} is not a bundled model ({', '.join(sorted(BUNDLED))}), "
                                             "a local path or a hub id")
    return names


def _choices(allowed: tuple[str, ...], empty_ok: bool):
    """A comma-separated list of some of `allowed`, checked when parsed."""
    def parse(text: str) -> list[str]:
        items = [item for item in text.split(",") if item]
        unknown = [item for item in items if item not in allowed]
        if unknown or not (items or empty_ok):
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(allowed)}, got {text!r}")
        return items
    return parse


def main(argv=None) -> int:
    from eval.lab import prefer_offline

    prefer_offline()
    from rag.settings import Parser, positive_int
    from rag.errors import UserError
    from rag.settings import ANSWERABILITY, PRECISIONS

    parser = Parser(prog="python -m eval.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--docs", type=positive_int, default=5183, help="SciFact abstracts to index")
    parser.add_argument("--large", type=positive_int, default=100_000, help="chunks of the synthetic large index")
    parser.add_argument("--runs", type=positive_int, default=5)
    parser.add_argument("--questions", type=Path, default=EVAL_DIR / "sets" / "sample.jsonl")
    parser.add_argument("--answers", type=positive_int, default=46, help="sample questions to time answers on")
    parser.add_argument("--precision", type=_choices(PRECISIONS, empty_ok=False), default="int8,float32",
                        help="model setups to time, the default first (its cold start is timed): int8 and/or float32")
    parser.add_argument("--answer-models", type=_names, default=[None], metavar="NAMES",
                        help="comma-separated models to time answers with (default: the default model), "
                             "e.g. qwen2.5-coder-0.5b-instruct,qwen2.5-coder-1.5b")
    parser.add_argument("--answerability", type=_choices(ANSWERABILITY, empty_ok=False), default="auto",
                        help="comma-separated: time answers with the trained head (auto) and/or without (signals)")
    parser.add_argument("--update", action="store_true",
                        help="keep the figures of skipped parts from an existing --out file")
    parser.add_argument("--skip", type=_choices(PARTS, empty_ok=True), default="",
                        help="comma-separated parts to skip: reading,indexing,retrieval,model,answers,scale "
                             "(scale: the engine race and 100k/1M search, eval/bench/scale.py, into scale.json)")
    args = parser.parse_args(argv)
    skip = set(args.skip)
    if not args.questions.is_file():
        parser.error(f"no question set at {args.questions}")
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails now, not after an hour
        args.out.with_suffix(".partial").write_text("", encoding="utf-8")
        args.out.with_suffix(".partial").unlink()
        return run_benchmark(args, skip)
    except (UserError, OSError, ValueError) as exc:
        print(f"python -m eval.bench: error: {exc}", file=sys.stderr)
        return 2


def run_benchmark(args, skip: set[str]) -> int:
    from eval.lab import load_embedder
    from eval.lab import Retriever

    embedder = load_embedder()
    result = {"machine": environment(), "runs": args.runs}
    if args.update and args.out.is_file():
        result = {**json.loads(args.out.read_text(encoding="utf-8")), **result}
    if "reading" not in skip:
        result["reading"] = bench_reading(args.runs)
        print(json.dumps({"reading": result["reading"]}), file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "indexing" not in skip:
            result["indexing"], data, stems = bench_indexing(embedder, args.docs, work)
            print(json.dumps({"indexing": result["indexing"]}), file=sys.stderr)
        if "retrieval" not in skip:
            if not (work / "index").exists():
                _, data, stems = bench_indexing(embedder, min(args.docs, 500), work)
            retriever = Retriever.open(work / "index", embedder)
            result["retrieval"] = {f"{retriever.size}_chunks": bench_retrieval(retriever, args.runs)}
            result["ann_quality"] = ann_quality(retriever, data, stems)
            large, build_s = synthetic_index(retriever, args.large, work)
            result["retrieval"][f"{large.size}_chunks"] = {
                **bench_retrieval(large, args.runs), "faiss": large.index.manifest.faiss_factory,
                "dense_build_s": round(build_s, 1)}
            print(json.dumps({"retrieval": result["retrieval"]}), file=sys.stderr)
    variants = args.precision
    if "model" not in skip:
        result["model"] = [in_child(bench_model, 1, variants[0], True)]
        result["model"] += [in_child(bench_model, args.runs, v, False) for v in variants]
        result["llamacpp"] = in_child(bench_llamacpp, args.runs)
        print(json.dumps({"model": result["model"], "llamacpp": result["llamacpp"]}), file=sys.stderr)
    if "answers" not in skip:
        result["answers"] = [in_child(bench_answers, args.questions, args.answers, v, m, a)
                             for m in args.answer_models for v in variants for a in args.answerability]
    if "scale" not in skip:  # about 40 minutes: its own figures file, next to this one
        from eval.bench.scale import main as bench_scale

        if bench_scale(["--out", str(args.out.with_name("scale.json")), "--update"]) != 0:
            return 2
    result["peak_rss_gb"] = peak_rss_gb()
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(table(result), encoding="utf-8")
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
