"""Where a benchmark writes its figures: a JSON file and the same figures as Markdown beside it.

The output is checked before the benchmark runs (a typo must not cost half an hour of measuring),
and both files are written with the machine's description.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path


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
