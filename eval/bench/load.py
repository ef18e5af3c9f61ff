"""The load benchmark: the chat server's resident memory as answers and uploading visitors pile up,
and answer latency under concurrent visitors.

    python -m eval.bench.load --out eval/results/load.json [--answers 200] [--visitors 20] [--concurrent 8]

The real app (`python app.py`, default model, over the bundled sample) runs in its own process and
is driven through its API, as visitors' browsers would drive it. Resident size is read from
/proc after each phase:

- a first start on an empty model cache, then a warm start: time to the first answer, resident
  size after it (the first start prepares the model in a helper process, so the two should match);
- after the first answer (the model loaded), after 50 and after `--answers` sequential answers;
- `--concurrent` visitors asking at once (each its own session, 3 questions each): p50/p95 latency;
- `--visitors` visitors one after another, each from its own address (the server trusts this
  machine as a proxy, so X-Forwarded-For names it), each uploading a PDF of 4 pages cut from the
  agency reports and asking 5 questions of it. Target: resident after the last visitor within 10%
  of resident after the 4th.

Writes JSON and the same figures as Markdown next to it (`.md`).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from eval import ROOT
from eval.bench import common
from eval.datasets import dataset_dir

REPORTS = dataset_dir("us_fed_agency_reports_2022")
VISITOR_QUESTIONS = ["What is the mission of the agency?", "What is the first strategic goal?",
                     "Who signed the plan?", "What does the plan say about climate change?",
                     "How will progress be measured?"]


def resident_mb(pid: int) -> dict:
    """Resident and peak resident size of one process, in MB (from /proc/PID/status)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return {"resident_mb": fields.get("VmRSS"), "peak_mb": fields.get("VmHWM")}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))], 2)


def visitor_pdfs(folder: Path, count: int, pages: int = 4) -> list[Path]:
    """`count` small PDFs, each `pages` pages cut from a different place in the agency reports."""
    import pypdfium2 as pdfium

    folder.mkdir(parents=True, exist_ok=True)
    reports = sorted(REPORTS.glob("*.pdf"))
    made = []
    for n in range(count):
        source = pdfium.PdfDocument(reports[n % len(reports)])
        first = min(len(source) - pages, 2 + (n // len(reports)) * 8)  # a second visitor of a report reads on
        target = pdfium.PdfDocument.new()
        target.import_pages(source, list(range(max(0, first), max(0, first) + pages)))
        path = folder / f"visitor{n + 1:02d}-{reports[n % len(reports)].stem}.pdf"
        target.save(path)
        made.append(path)
    return made


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(work: Path, port: int, env: dict | None = None) -> subprocess.Popen:
    argv = [sys.executable, str(ROOT / "app.py"), "--docs", str(ROOT / "rag" / "sample" / "japan-us-alliance.md"),
            "--index", str(work / "index"), "--port", str(port), "--trusted-proxies", "127.0.0.1"]
    with open(work / "server.log", "a") as log:
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT, env=env)


def first_answer(server: subprocess.Popen, url: str, work: Path, question: str):
    """A client once the server listens, after the first answer (the model loaded)."""
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the app exited; see {work / 'server.log'}")
        try:
            visitor = client(url)
            break
        except Exception:
            time.sleep(2)
    visitor.predict(question, api_name="/chat")
    return visitor


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def first_start(work: Path, question: str) -> dict:
    """The app started on an empty model cache (the first start on a new machine), then again on
    the cache it filled (a warm start): time to the first answer and resident size after it."""
    env = {**os.environ, "RAG_MODEL_CACHE": str(work / "models")}
    figures = {}
    for name in ("first_start", "warm_start"):
        port = free_port()
        started = time.perf_counter()
        server = start_server(work, port, env)
        try:
            first_answer(server, f"http://127.0.0.1:{port}/", work, question)
            figures[name] = {"first_answer_s": round(time.perf_counter() - started, 1), **resident_mb(server.pid)}
        finally:
            stop(server)
        print(f"{name}: {figures[name]}", file=sys.stderr)
    return figures


def client(url: str, address: str | None = None):
    from gradio_client import Client

    return Client(url, verbose=False, headers={"X-Forwarded-For": address} if address else None)


def sample_questions() -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "sets" / "sample.jsonl").read_text().splitlines() if line]
    return [r["question"] for r in rows]


def measure(work: Path, answers: int, visitors: int, concurrent: int, with_first_start: bool = True) -> dict:
    from gradio_client import handle_file

    questions = sample_questions()
    figures: dict = {"answers": [], "uploads": []}
    if with_first_start:
        figures["starts"] = first_start(work, questions[0])
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    server = start_server(work, port)
    try:
        first = first_answer(server, url, work, questions[0])
        figures["ready_s"] = round(time.perf_counter() - started, 1)
        figures["answers"].append({"answers": 0, **resident_mb(server.pid)})
        for n in range(1, answers + 1):
            first.predict(questions[n % len(questions)], api_name="/chat")
            if n in (50, answers):
                figures["answers"].append({"answers": n, **resident_mb(server.pid)})
                print(f"after {n} answers: {figures['answers'][-1]}", file=sys.stderr)

        latencies, lock = [], threading.Lock()

        def visitor_asks(v: int) -> None:
            own = client(url)
            for q in range(3):
                begun = time.perf_counter()
                own.predict(questions[(v * 3 + q) % len(questions)], api_name="/chat")
                with lock:
                    latencies.append(time.perf_counter() - begun)

        threads = [threading.Thread(target=visitor_asks, args=(v,)) for v in range(concurrent)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        figures["concurrent"] = {"visitors": concurrent, "answers": len(latencies),
                                 "p50_s": percentile(latencies, 0.5), "p95_s": percentile(latencies, 0.95),
                                 **resident_mb(server.pid)}
        print(f"{concurrent} concurrent visitors: {figures['concurrent']}", file=sys.stderr)

        for n, pdf in enumerate(visitor_pdfs(work / "pdfs", visitors), start=1):
            own = client(url, address=f"10.0.{n // 250}.{n % 250 + 1}")
            begun = time.perf_counter()
            status, _ = own.predict([handle_file(str(pdf))], api_name="/upload")
            upload_s = time.perf_counter() - begun
            for question in VISITOR_QUESTIONS:
                own.predict(question, api_name="/chat")
            row = {"visitor": n, "upload_s": round(upload_s, 1), "indexed": "added" in status, **resident_mb(server.pid)}
            figures["uploads"].append(row)
            print(f"visitor {n}: {row}", file=sys.stderr)
    finally:
        stop(server)
    by_visitor = {r["visitor"]: r["resident_mb"] for r in figures["uploads"]}
    if 4 in by_visitor and visitors in by_visitor:
        figures["uploads_growth"] = round(by_visitor[visitors] / by_visitor[4], 3)
    return figures


def markdown(result: dict) -> str:
    f = result["figures"]
    lines = [f"# Load: resident memory and latency of the chat server ({result['date']})", "",
             f"Machine: {result['machine']}; OPENBLAS_CORETYPE {result['openblas_coretype'] or 'unset'}. "
             f"Made by `python -m eval.bench.load`. Ready (first answer given) after {f['ready_s']} s.", "",
             "| after | resident MB | peak MB |", "|---|---|---|"]
    for name, row in f.get("starts", {}).items():
        label = "a first start (empty model cache)" if name == "first_start" else "a warm start"
        lines.append(f"| the first answer of {label}, {row['first_answer_s']} s | {row['resident_mb']} | "
                     f"{row['peak_mb']} |")
    for row in f["answers"]:
        lines.append(f"| {row['answers']} answers | {row['resident_mb']} | {row['peak_mb']} |")
    c = f["concurrent"]
    lines.append(f"| {c['visitors']} concurrent visitors ({c['answers']} answers) | {c['resident_mb']} | "
                 f"{c['peak_mb']} |")
    for row in f["uploads"]:
        if row["visitor"] in (1, 4, 8, 12, 16, len(f["uploads"])):
            lines.append(f"| {row['visitor']} uploading visitors | {row['resident_mb']} | {row['peak_mb']} |")
    lines += ["", f"{c['visitors']} visitors asking at once (3 questions each, one model, one answer at a time): "
              f"latency p50 {c['p50_s']} s, p95 {c['p95_s']} s.", ""]
    if "uploads_growth" in f:
        lines.append(f"Resident after {len(f['uploads'])} uploading visitors / after 4: {f['uploads_growth']:.3f} "
                     f"(target ≤ 1.10). Uploads indexed: {sum(r['indexed'] for r in f['uploads'])} of "
                     f"{len(f['uploads'])}; upload time p50 "
                     f"{statistics.median(r['upload_s'] for r in f['uploads']):.1f} s.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the JSON to write (and .md beside it)")
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=8)
    parser.add_argument("--no-first-start", action="store_true", help="skip the first start on an empty model cache")
    args = parser.parse_args(argv)
    if min(args.answers, args.visitors, args.concurrent) < 1:
        print("python -m eval.bench.load: error: --answers, --visitors and --concurrent must be at least 1",
              file=sys.stderr)
        return 2
    try:
        common.check_writable(args.out)
    except OSError as exc:
        print(f"python -m eval.bench.load: error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        try:
            figures = measure(Path(tmp), args.answers, args.visitors, args.concurrent, not args.no_first_start)
        except RuntimeError as exc:
            print(f"python -m eval.bench.load: error: {exc}", file=sys.stderr)
            return 1
    result = {**common.machine(), "figures": figures}
    common.write(args.out, result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
