"""The `rag` command: index, search, ask, eval. Heavy imports live inside each branch."""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

from .errors import UserError


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def _add_index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", type=Path, default=None,
                        help="index folder (default: an index of the bundled sample, built on first use)")
    parser.add_argument("--embed-model", default="all-MiniLM-L6-v2",
                        help="sentence-transformers model name or local path (default: bundled all-MiniLM-L6-v2)")


def _add_retrieval_options(parser: argparse.ArgumentParser, k: int) -> None:
    parser.add_argument("-k", type=_positive_int, default=k, help=f"passages to retrieve (default {k})")
    parser.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid")
    parser.add_argument("--json", action="store_true", help="print JSON")


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line on stderr, like every other error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rag", description="Ask questions of your documents, locally.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("index", help="build or update an index from files or folders")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    _add_index_option(p)
    p.add_argument("--faiss", default="Flat", help='FAISS factory string, e.g. "HNSW32" (default: exact "Flat")')
    p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("search", help="show the passages retrieved for a question")
    p.add_argument("question")
    _add_index_option(p)
    _add_retrieval_options(p, k=5)
    return parser


@functools.lru_cache(maxsize=2)
def load_embedder_once(model: str):
    """One embedder per model and process: the app and in-process callers reuse it."""
    from embeddings import EmbedderConfig, load_embedder
    from embeddings.sentence_transformer import ModelUnavailable

    try:
        return load_embedder(EmbedderConfig(model=model))
    except ModelUnavailable as exc:
        raise UserError(str(exc)) from exc


def _embedder(args):
    return load_embedder_once(args.embed_model)


def resolve_index(args, embedder) -> Path:
    """The named index, or the sample's default index, built on first use."""
    from . import paths, store

    if args.index is not None:
        return args.index
    index_dir = paths.default_index_dir()
    if not store.is_index(index_dir):
        from .indexer import build_index

        print(f"building the sample index at {index_dir} (first use)…", file=sys.stderr)
        build_index([paths.sample_document()], index_dir, embedder, progress=False)
    return index_dir


def cmd_index(args) -> int:
    from . import paths
    from .indexer import build_index
    from .readers import find_documents

    find_documents(args.paths)  # a missing path fails before the model loads
    embedder = _embedder(args)
    index_dir = args.index or paths.default_index_dir()
    report = build_index(args.paths, index_dir, embedder, faiss_factory=args.faiss, progress=not args.quiet)
    print(f"{index_dir}: {report.summary()}")
    return 0


def cmd_search(args) -> int:
    from .retrieval import Retriever, check_query

    from . import store

    check_query(args.question, args.k, args.mode)
    if args.index is not None:
        store.live_generation(args.index)  # a missing or foreign index fails before the model loads
    embedder = _embedder(args)
    retriever = Retriever.open(resolve_index(args, embedder), embedder)
    passages = retriever.search(args.question, k=args.k, mode=args.mode)
    if args.json:
        print(json.dumps([p.to_json() for p in passages], ensure_ascii=False, indent=2))
        return 0
    if not passages:
        print("no passages matched")
    for p in passages:
        where = Path(p.chunk.source).name + (f", page {p.chunk.page}" if p.chunk.page else "")
        print(f"[{p.rank}] {p.score:.4f}  {p.chunk.section_path or '(no section)'}  ({where})")
        text = p.chunk.text if len(p.chunk.text) <= 400 else p.chunk.text[:400] + "…"
        print("    " + text.replace("\n", "\n    ") + "\n")
    return 0


COMMANDS = {"index": cmd_index, "search": cmd_search}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rag: interrupted; any existing index is unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
