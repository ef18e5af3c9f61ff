"""CPU runtimes for the bundled generator, side by side (issue 42): load, prefill and decode speed,
peak memory, on the same weights, the same prompt and the same threads.

    python -m eval.bench.runtimes --out eval/results/runtime.json [--runs 3] \
        [--runtime torch-int8] [--runtime llamacpp] [--runtime ort-int4=/path/to/folder] ...
        [--python ort-int4=/path/to/venv/bin/python]

Each runtime is measured in a process of its own (its load time and peak memory are its own),
by the interpreter `--python` names for it: the runtimes that conflict with this project's pins
(optimum-intel pulls another torch) live in a virtualenv of their own. The prompt is the bundled
sample's first 1,500 tokens (prefill) and its first 200 then 64 greedy tokens (decode), tokenised
by each runtime's own tokenizer (one vocabulary: Qwen2.5's). Threads: every core. The figures
are medians of `--runs` in one run; compare ratios within a run, since other jobs on a shared
machine move every figure. Whether OPENBLAS_CORETYPE was set is written beside them.

Folders each runtime reads (made once from the float32 cache of the bundled GGUF, `rag/generate/
transformers_load.py`, whose config needs `"architectures": ["Qwen2ForCausalLM"]` added):
- ONNX Runtime GenAI: `python -m onnxruntime_genai.models.builder -i HF -o OUT -p int4 -e cpu
  --extra_options int4_accuracy_level=4` (and `-p int8`);
- OpenVINO GenAI: `optimum-cli export openvino --model HF --task text-generation-with-past
  --weight-format int8 OUT` (optimum-intel, in its own virtualenv);
- llama.cpp reads the bundled GGUF itself; torch-int8 is today's path.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "rag" / "sample" / "japan-us-alliance.md"
PREFILL_TOKENS, DECODE_PROMPT, DECODE_TOKENS = 1500, 200, 64


def _peak_rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 3)


def _figures(load_s: float, prefill: list[float], decode: list[float], prompt: int) -> dict:
    return {"load_s": round(load_s, 2), "prompt_tokens": prompt,
            "prefill_tokens_per_s": round(statistics.median(prefill), 1),
            "first_token_s": round(prompt / statistics.median(prefill), 2),
            "decode_tokens_per_s": round(statistics.median(decode), 2), "peak_rss_gb": _peak_rss_gb(),
            "threads": os.cpu_count()}


def torch_int8(runs: int, folder: str = "") -> dict:
    """Today's path: the GGUF's float32 cache with dynamic int8 Linear layers (eval.bench.answers)."""
    from eval.bench.answers import bench_model

    result = bench_model(runs, "int8", cold=False)
    return {"load_s": result["warm_start_s"], "prompt_tokens": result["prompt_tokens"],
            "prefill_tokens_per_s": round(result["prefill_tokens_per_s"], 1),
            "first_token_s": round(result["prompt_tokens"] / result["prefill_tokens_per_s"], 2),
            "decode_tokens_per_s": round(result["decode_tokens_per_s"], 2), "peak_rss_gb": result["peak_rss_gb"],
            "threads": result["threads"]}


def llamacpp(runs: int, folder: str = "") -> dict:
    """llama.cpp (llama-cpp-python) on the bundled GGUF itself."""
    from eval.bench.answers import bench_llamacpp

    result = bench_llamacpp(runs)
    if "skipped" in result:
        return result
    return _figures(result["load_s"], [result["prefill_tokens_per_s"]], [result["decode_tokens_per_s"]],
                    result["prompt_tokens"]) | {"peak_rss_gb": result["peak_rss_gb"]}


def onnxruntime_genai(runs: int, folder: str) -> dict:
    """ONNX Runtime GenAI on a model builder's folder; its telemetry events turned off."""
    import onnxruntime_genai as og

    og.disable_telemetry_events()
    config_file = Path(folder) / "genai_config.json"
    config = json.loads(config_file.read_text())
    config["model"]["decoder"]["session_options"]["intra_op_num_threads"] = os.cpu_count()
    config_file.write_text(json.dumps(config, indent=1))
    started = time.perf_counter()
    model = og.Model(folder)
    tokenizer = og.Tokenizer(model)
    load_s = time.perf_counter() - started
    ids = list(tokenizer.encode(SAMPLE.read_text()))[:PREFILL_TOKENS]

    def generate(prompt: list[int], new: int) -> tuple[float, float]:
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(prompt) + new, do_sample=False)
        generator = og.Generator(model, params)
        started = time.perf_counter()
        generator.append_tokens(prompt)
        prefill_s = time.perf_counter() - started
        started, made = time.perf_counter(), 0
        while not generator.is_done() and made < new:
            generator.generate_next_token()
            made += 1
        return prefill_s, made / max(time.perf_counter() - started, 1e-9)

    prefill, decode = [], []
    for _ in range(runs):
        prefill.append(len(ids) / generate(ids, 1)[0])
        decode.append(generate(ids[:DECODE_PROMPT], DECODE_TOKENS)[1])
    return _figures(load_s, prefill, decode, len(ids))


def openvino_genai(runs: int, folder: str) -> dict:
    """OpenVINO GenAI's LLMPipeline on an exported folder; its telemetry opted out."""
    os.environ["OPENVINO_TELEMETRY_OPT_OUT"] = "1"  # noqa: the exporter's and runtime's usage pings
    import openvino_genai as ov_genai
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer(SAMPLE.read_text())["input_ids"]
    long, short = tokenizer.decode(ids[:PREFILL_TOKENS]), tokenizer.decode(ids[:DECODE_PROMPT])
    started = time.perf_counter()
    pipe = ov_genai.LLMPipeline(folder, "CPU", INFERENCE_NUM_THREADS=os.cpu_count())
    load_s = time.perf_counter() - started

    def generate(prompt: str, new: int):
        config = ov_genai.GenerationConfig()
        config.max_new_tokens = config.min_new_tokens = new
        config.apply_chat_template = False
        return pipe.generate([prompt], config).perf_metrics

    prefill, decode, prompt = [], [], 0
    for _ in range(runs):
        metrics = generate(long, 1)
        prompt = metrics.get_num_input_tokens()
        prefill.append(prompt / (metrics.get_ttft().mean / 1000))
        decode.append(1000 / generate(short, DECODE_TOKENS).get_tpot().mean)
    return _figures(load_s, prefill, decode, prompt)


RUNTIMES = {"torch-int8": torch_int8, "llamacpp": llamacpp, "ort-int4": onnxruntime_genai,
            "ort-int8": onnxruntime_genai, "openvino-int8": openvino_genai, "openvino-int4": openvino_genai}


def measure_in_child(name: str, folder: str, runs: int, python: str) -> dict:
    """One runtime in a fresh process of `python`; its figures, or what stopped it in one line."""
    code = ("import json, sys; from eval.bench.runtimes import RUNTIMES; "
            f"print('RESULT ' + json.dumps(RUNTIMES[{name!r}]({runs}, {folder!r})))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([python, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        return {"skipped": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(line[len("RESULT "):])


def table(result: dict) -> str:
    rows = ["| runtime | load s | prefill tok/s | first token s (1,500-token prompt) | decode tok/s | peak RSS GB |",
            "|---|---|---|---|---|---|"]
    for name, r in result["runtimes"].items():
        if "skipped" in r:
            rows.append(f"| {name} | skipped: {r['skipped']} | | | | |")
        else:
            rows.append(f"| {name} | {r['load_s']} | {r['prefill_tokens_per_s']} | {r['first_token_s']} | "
                        f"{r['decode_tokens_per_s']} | {r['peak_rss_gb']} |")
    head = (f"Runtimes, {result['machine']}, runs {result['runs']}, OPENBLAS_CORETYPE "
            f"{result['openblas_coretype'] or 'unset'}, {result['date']}\n\n")
    return head + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.runtimes", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--runtime", action="append", default=[], help="NAME or NAME=FOLDER (see RUNTIMES)")
    parser.add_argument("--python", action="append", default=[], help="NAME=INTERPRETER for a runtime's own venv")
    args = parser.parse_args(argv)
    from eval.bench.common import check_writable, machine, write

    pythons = dict(p.split("=", 1) for p in args.python)
    chosen = [r.split("=", 1) + [""] for r in args.runtime or ["torch-int8", "llamacpp"]]
    unknown = [name for name, *_ in chosen if name not in RUNTIMES]
    if unknown:
        print(f"error: unknown runtime {unknown[0]}; known: {', '.join(RUNTIMES)}", file=sys.stderr)
        return 2
    try:
        check_writable(args.out)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = {**machine(), "runs": args.runs, "runtimes": {}}
    for name, folder, *_ in chosen:
        result["runtimes"][name] = measure_in_child(name, folder, args.runs, pythons.get(name, sys.executable))
        print(name, result["runtimes"][name], file=sys.stderr)
    write(args.out, result, table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
