"""The serving benchmark: answers per second and latency as concurrent clients grow, on Ray Serve
replicas against one process.

    python -m eval.bench.serve --out eval/results/serve.json [--clients 1 2 4 8] [--per-client 3]

Setups (default model, the bundled sample, greedy answers):
- one process, the model on 1 and on 2 threads (answers one at a time, as the app does);
- Ray Serve with 1 replica and with 2 replicas of 1 thread each, on a local Ray.

Each client asks `--per-client` questions of the sample set one after another; clients run at
once. Figures per setup and client count: answers per second (all answers / wall time), p50 and
p95 of one answer's latency. Also: the peak resident memory of each replica, and the latency Serve
adds to one answer (1 client: 1 replica of 1 thread against one process on 1 thread). Writes JSON,
and the same figures as Markdown next to it (`.md`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from eval import ROOT
from eval.bench import common



def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))], 2)


def questions() -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "sets" / "sample.jsonl").read_text().splitlines() if line]
    return [r["question"] for r in rows]


def load(ask, clients: int, per_client: int) -> dict:
    """`clients` threads, each asking `per_client` questions in turn: throughput and latency."""
    asked, latencies, lock = questions(), [], threading.Lock()

    def client(c: int) -> None:
        for n in range(per_client):
            started = time.perf_counter()
            ask(asked[(c * per_client + n) % len(asked)])
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"clients": clients, "answers": len(latencies), "answers_per_s": round(len(latencies) / wall, 3),
            "p50_s": percentile(latencies, 0.5), "p95_s": percentile(latencies, 0.95)}


def peak_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def measure(index: Path, client_counts: list[int], per_client: int) -> dict:
    import torch

    from eval import lab
    from rag import serving
    from rag.records import Final
    from rag.settings import Settings

    settings = Settings()
    embedder = lab.load_embedder(settings.embedding_model)
    generator = lab.load_generator(settings, embedder, log=lambda m: None)
    pipeline = lab.answer_pipeline(lab.open_retriever(settings, index), generator, lab.answer_config(settings))
    pipeline.ask(questions()[0])  # warm
    setups = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        name = f"one process, {threads} thread{'s' if threads > 1 else ''}"
        setups[name] = [load(pipeline.ask, c, per_client) for c in client_counts]
        print(name, setups[name], file=sys.stderr)
    torch.set_num_threads(os.cpu_count() or 1)
    replica_memory = {}
    for replicas in (1, 2):
        remote = serving.RemoteAnswers(serving.deploy(serving.ServeOptions(None, replicas, 1), settings))
        ask = lambda q: next(e.answer for e in remote.stream(index, q, settings.k, settings.mode) if isinstance(e, Final))
        ask(questions()[0])  # warm every replica's caches
        name = f"Ray Serve, {replicas} replica{'s' if replicas > 1 else ''} of 1 thread"
        setups[name] = [load(ask, c, per_client) for c in client_counts]
        pids = {remote.handle.pid.remote().result(timeout_s=120) for _ in range(4 * replicas)}
        replica_memory[name] = [peak_mb(pid) for pid in sorted(pids)]
        print(name, setups[name], replica_memory[name], file=sys.stderr)
    from ray import serve

    serve.shutdown()
    one = {name: rows[0] for name, rows in setups.items() if rows[0]["clients"] == 1}
    added = None
    if "one process, 1 thread" in one and "Ray Serve, 1 replica of 1 thread" in one:
        local, served = one["one process, 1 thread"]["p50_s"], one["Ray Serve, 1 replica of 1 thread"]["p50_s"]
        added = {"one_process_p50_s": local, "serve_p50_s": served, "added_share": round(served / local - 1, 3)}
    return {"setups": setups, "replica_peak_mb": replica_memory, "serve_added_latency": added}


def markdown(result: dict) -> str:
    f = result["figures"]
    counts = [row["clients"] for row in next(iter(f["setups"].values()))]
    lines = [f"# Serving: answers per second and latency by concurrent clients ({result['date']})", "",
             f"Machine: {result['machine']}; OPENBLAS_CORETYPE {result['openblas_coretype'] or 'unset'}. Made by "
             f"`python -m eval.bench.serve`; default model, the bundled sample, {result['per_client']} questions "
             "per client. Cells: answers/s, p50 / p95 s.", "",
             "| setup | " + " | ".join(f"{c} client{'s' if c > 1 else ''}" for c in counts) + " |",
             "|---|" + "---|" * len(counts)]
    for name, rows in f["setups"].items():
        lines.append(f"| {name} | " + " | ".join(f"{r['answers_per_s']:.2f}, {r['p50_s']} / {r['p95_s']}"
                                                  for r in rows) + " |")
    by = {name: {r["clients"]: r for r in rows} for name, rows in f["setups"].items()}
    one, two = by.get("Ray Serve, 1 replica of 1 thread"), by.get("Ray Serve, 2 replicas of 1 thread")
    if one and two and 4 in one and 4 in two:
        ratio = two[4]["answers_per_s"] / one[4]["answers_per_s"]
        lines += ["", f"2 replicas / 1 replica at 4 clients: {ratio:.2f}x the answers per second "
                      f"(target ≥ 1.7x, a scaling efficiency of {ratio / 2:.0%})."]
    if f.get("serve_added_latency"):
        a = f["serve_added_latency"]
        lines.append(f"Latency Serve adds to one answer (1 client, 1 thread each): p50 {a['serve_p50_s']} s against "
                     f"{a['one_process_p50_s']} s in one process, {a['added_share']:+.1%} (target ≤ +5%).")
    for name, peaks in f["replica_peak_mb"].items():
        lines.append(f"Peak resident per replica, {name}: {', '.join(f'{p} MB' for p in peaks)}.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--per-client", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        if min(args.clients + [args.per_client]) < 1:
            raise OSError("--clients and --per-client must be at least 1")
        common.check_writable(args.out)
    except OSError as exc:
        print(f"python -m eval.bench.serve: error: {exc}", file=sys.stderr)
        return 2
    from eval import lab
    from rag.errors import UserError
    from rag.library import Library
    from eval.lab import sample_document
    from rag.settings import Settings

    lab.prefer_offline()
    lab.quiet_library_warnings()
    with tempfile.TemporaryDirectory(prefix="rag-serve-") as tmp:
        index = Path(tmp) / "index"
        Library(Settings(), index, lab.load_embedder()).index([sample_document()])
        try:
            figures = measure(index, sorted(set(args.clients)), args.per_client)
        except UserError as exc:
            print(f"python -m eval.bench.serve: error: {exc}", file=sys.stderr)
            return 1
    result = {**common.machine(), "per_client": args.per_client, "figures": figures}
    common.write(args.out, result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
