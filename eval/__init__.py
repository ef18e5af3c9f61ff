"""Evaluation, by role.

The tools (this folder): `runner` (rag eval), `scoring`, `metrics` (every metric declared once),
`report`, `questions`, `judge`, `datasets`, `cli`; `bench/`: speed and memory; `calibrate/`: the
fits and trainers, the only writers of what ships under rag/answer/; `experiments/`: studies that
nothing imports. Question sets are in `sets/`, settings files in `configs/`, data with its
provenance in `data/`, figures in `results/`.
"""
from __future__ import annotations

from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parent
ROOT = EVAL_DIR.parent  # the repository


def run_command(main, argv=None) -> int:
    """`main(argv)` of a `python -m eval.…` command, with a UserError as one line and exit 2."""
    import sys
    from pathlib import Path

    from rag.errors import UserError

    try:
        return main(argv)
    except UserError as exc:
        print(f"{Path(sys.argv[0]).stem}: error: {exc}", file=sys.stderr)
        return 2
