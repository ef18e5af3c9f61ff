"""What the benchmarks share: where they write their figures (a JSON file and the same figures
as Markdown beside it, the output checked before a run: a typo must not cost half an hour of
measuring), the machine's description, the statistics, the retrieval timing and the child
process that measures start-up and memory alone.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

from eval.datasets import dataset_dir

SCIFACT = dataset_dir("beir_scifact")
QUERIES = ["What is the effect of vitamin D on bone density?", "Which genes are linked to breast cancer?",
           "How does smoking affect lung function?", "What causes antibiotic resistance in bacteria?",
           "Does exercise reduce the risk of heart disease?"]


def check_writable(out: Path) -> None:
    """Raises OSError, with a one-line reason, when `out` cannot take the JSON figures."""
    if out.is_dir():
        raise OSError(f"--out {out} is a folder; name a .json file")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8"):
        pass


def machine() -> dict:
    return {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}


def write(out: Path, result: dict, markdown: str) -> None:
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown, encoding="utf-8")
    print(markdown)


def median(values):
    return round(statistics.median(values), 4)


def p95(values):
    values = sorted(values)
    return round(values[min(len(values) - 1, round(0.95 * (len(values) - 1)))], 4)


def peak_rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 3)


def environment() -> dict:
    """The machine and the library versions, with whether OPENBLAS_CORETYPE was set."""
    from importlib.metadata import version

    return {"cores": os.cpu_count(), "ram_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset"),  # slows numpy/FAISS kernels when set
            **{p: version(p) for p in ("torch", "transformers", "sentence-transformers", "faiss-cpu", "bm25s")}}


def bench_retrieval(retriever, runs: int, queries: list[str] = QUERIES, k: int = 5) -> dict:
    """p50/p95 milliseconds per mode, query embedding included."""
    out = {}
    for mode in ("dense", "bm25", "hybrid"):
        times = []
        for _ in range(runs):
            for query in queries:
                started = time.perf_counter()
                retriever.search(query, k=k, mode=mode)
                times.append(1000 * (time.perf_counter() - started))
        out[mode] = {"p50_ms": median(times), "p95_ms": p95(times)}
    return out


def in_child(function, *args):
    """Run in a fresh process: its start-up time and peak memory are measured alone."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)
