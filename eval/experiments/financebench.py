"""The FinanceBench protocol: one shared index over every filing, questions split by company.

    python -m eval.experiments.financebench PDF_DIR OUT [--part test|calibration] [--limit N] [--generator G]

PDF_DIR holds `financebench_open_source.jsonl` and `pdfs/` (on the team's machines
`../shared/datasets/financebench`; the question file is not in this repository, see
`eval/data/financebench_filings/PROVENANCE.md`). Each step resumes where a run stopped:

1. **Index**: every PDF into OUT/index, ten files a build (the index is incremental, so an
   interrupted build keeps the files before it); pages/s, passages/s and the size in OUT/build.json.
2. **Answer**: the part's questions, one JSON line each in OUT/<part>/results.jsonl.
3. **Grade** (`eval.experiments.finance_grading`) and write OUT/<part>/report.md: correct, incorrect and
   refused by question kind, beside the published anchors.

Parts are split by company (seeded): no company's filings or questions are in both.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from rag.errors import UserError

SEED = 13
BATCH_FILES = 10
PARTS = ("calibration", "test")
# Published on these 150 questions (human-graded; the repository's results/, see PROVENANCE)
def read_questions(root: Path) -> list[dict]:
    path = root / "financebench_open_source.jsonl"
    if not path.is_file():
        raise UserError(f"{path}: not found; PDF_DIR must hold financebench_open_source.jsonl and pdfs/")
    from eval.datasets import read_jsonl

    return read_jsonl(path)


def company_parts(companies: list[str], seed: int = SEED) -> dict[str, str]:
    """Each company's part: half calibration, half test, shuffled once with `seed`.

    >>> parts = company_parts(["A", "B", "C", "D"]); sorted(parts.values())
    ['calibration', 'calibration', 'test', 'test']
    """
    names = sorted(set(companies))
    random.Random(seed).shuffle(names)
    half = len(names) // 2
    return {name: ("calibration" if i < half else "test") for i, name in enumerate(names)}


def part_questions(rows: list[dict], part: str, pdf_dir: Path) -> list[dict]:
    """The part's questions whose filing is in PDF_DIR (129 of 150 in the shared sample)."""
    parts = company_parts([r["company"].upper() for r in rows])
    held = {p.stem for p in pdf_dir.glob("*.pdf")}
    return [r for r in rows if parts[r["company"].upper()] == part and r["doc_name"] in held]


def build(pdf_dir: Path, out: Path, batch_files: int = BATCH_FILES) -> dict:
    """The shared index over every filing, built `batch_files` at a time (resumable); its figures."""
    from eval import lab
    from eval.lab import store
    from rag.library import Library
    from rag.settings import Settings

    index_dir = out / "index"
    figures_path = out / "build.json"
    figures = json.loads(figures_path.read_text()) if figures_path.is_file() else {"batches": []}
    pdfs = sorted(pdf_dir.glob("*.pdf"))
    if not pdfs:
        raise UserError(f"{pdf_dir}: no PDF files")
    done = set(store.load(index_dir).manifest.files) if store.is_index(index_dir) else set()
    todo = [p for p in pdfs if str(p.resolve()) not in done]
    if not todo:
        return figures
    settings = Settings()
    embedder = lab.load_embedder(settings.embedding_model)
    for start in range(0, len(todo), batch_files):
        batch = todo[start:start + batch_files]
        started = time.perf_counter()
        report = Library(settings, index_dir, embedder).index(batch, progress=sys.stderr.isatty())
        seconds = time.perf_counter() - started
        figures["batches"].append({"files": len(batch), "pages": report.pages_read, "reading_s": report.reading_s,
                                   "passages": report.chunks_embedded, "seconds": seconds})
        figures_path.write_text(json.dumps(figures, indent=1))
        print(f"indexed {start + len(batch)}/{len(todo)} files: {report.summary()} in {seconds:.0f} s", file=sys.stderr)
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.experiments.financebench", description=__doc__.split("\n")[0])
    parser.add_argument("pdf_dir", type=Path, metavar="PDF_DIR")
    parser.add_argument("out", type=Path, metavar="OUT")
    parser.add_argument("--part", choices=PARTS, default="test")
    parser.add_argument("--limit", type=int, default=None, help="the first N questions of the part")
    parser.add_argument("--generator", default="transformers", choices=("transformers", "extractive"))
    parser.add_argument("--build-only", action="store_true", help="index the filings, answer nothing")
    parser.add_argument("--batch-files", type=int, default=BATCH_FILES,
                        help=f"files per resumable build (default {BATCH_FILES}; each build rewrites the index)")
    parser.add_argument("--cell-threshold", type=float, default=None,
                        help="answer from a table cell at this row score (default: the shipped one; "
                             "0 on the calibration part keeps every cell answer to fit it on)")
    parser.add_argument("--collect", action="store_true",
                        help="refuse on no fitted signal: grade every drafted answer (calibration part, to fit on)")
    parser.add_argument("--name", default="", help="a name for this run's folder (OUT/PART-GENERATOR-NAME)")
    args = parser.parse_args(argv)
    try:
        if args.batch_files < 1:
            raise UserError(f"--batch-files must be at least 1 (got {args.batch_files})")
        rows = read_questions(args.pdf_dir)
        pdf_dir = args.pdf_dir / "pdfs"
        args.out.mkdir(parents=True, exist_ok=True)
        build(pdf_dir, args.out, args.batch_files)
        if args.build_only:
            return 0
        from eval.experiments.finance_run import answer_part, write_report

        questions = part_questions(rows, args.part, pdf_dir)[: args.limit]
        answer_part(questions, args.out, args.part, args.generator, args.cell_threshold, args.name,
                    decide=not args.collect)
        print(write_report(args.out, args.part, args.generator, args.name))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
