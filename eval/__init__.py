"""Evaluation: question sets, metrics, runner, reports, benchmarks and the fits that ship weights."""
from __future__ import annotations


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
