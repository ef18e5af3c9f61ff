"""The `rag` command: index, search, ask, eval. Heavy imports live inside each branch."""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

from .errors import UserError
from .generators import DEFAULT_PRECISION, PRECISIONS


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
    p.add_argument("--faiss", default="auto",
                   help='FAISS factory string, e.g. "Flat" or "HNSW32" (default auto: exact below 50,000 chunks, HNSW32 above)')
    p.add_argument("--quiet", action="store_true", help="no progress bars")

    p = sub.add_parser("search", help="show the passages retrieved for a question")
    p.add_argument("question")
    _add_index_option(p)
    _add_retrieval_options(p, k=5)

    p = sub.add_parser("ask", help="answer a question from the documents, with cited sections")
    p.add_argument("question")
    _add_index_option(p)
    _add_retrieval_options(p, k=4)
    _add_generator_options(p)

    p = sub.add_parser("eval", help="run a question set and report retrieval, answer, citation and refusal quality")
    p.add_argument("questions", type=Path, help="JSON Lines set, SQuAD .json file, or BEIR folder")
    p.add_argument("--index", type=Path, default=None, help="index of the documents (JSON Lines sets; default: sample)")
    p.add_argument("--out", type=Path, required=True, help="folder for results.jsonl, summary.json and the report")
    _add_retrieval_options(p, k=4)
    _add_generator_options(p)
    p.add_argument("--style", choices=("quote", "generated"), default="quote")
    p.add_argument("--limit", type=_positive_int, default=None, help="only the first N questions")
    p.add_argument("--fresh", action="store_true", help="discard earlier results instead of resuming")
    p.add_argument("--retrieval-only", action="store_true", help="measure retrieval only (no answers)")
    p.add_argument("--compare", type=Path, nargs="+", metavar="TOML",
                   help="configuration files (keys: k, mode, generator, model, max_new_tokens, style) to compare")
    return parser


def _add_generator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--generator", choices=("transformers", "extractive"), default="transformers",
                        help="a local language model (default) or the extractive answerer (no model)")
    parser.add_argument("--model", default=None,
                        help="Hugging Face model id, local folder or .gguf file (default: the bundled "
                             "Qwen2.5-Coder-0.5B-Instruct, offline)")
    parser.add_argument("--max-new-tokens", type=_positive_int, default=48)
    parser.add_argument("--precision", choices=PRECISIONS, default=DEFAULT_PRECISION,
                        help=f"model weights: int8 Linear layers (faster on CPU) or float32 (default {DEFAULT_PRECISION})")


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
    """The named index, or the sample's default index: built on first use, and brought up to date
    when the sample it holds is another copy's (another checkout or virtualenv), whose path the
    sources would otherwise show."""
    from . import paths, store
    from .indexer import build_index

    if args.index is not None:
        return args.index
    index_dir, sample = paths.default_index_dir(), paths.sample_document()
    if not store.is_index(index_dir):
        print(f"building the sample index at {index_dir} (first use)…", file=sys.stderr)
        build_index([sample], index_dir, embedder, progress=False)
    elif str(sample) not in store.read_manifest(index_dir).files:
        build_index([sample], index_dir, embedder, progress=False)
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


def make_pipeline(args, log=lambda m: print(m, file=sys.stderr)):
    """Retriever + generator for `ask`, `eval` and the app, from the shared options."""
    from .answering import AnswerConfig, AnswerPipeline
    from .retrieval import Retriever

    embedder = _embedder(args)
    generator = make_generator(args.generator, args.model, args.max_new_tokens, embedder, log,
                               args.precision)  # fails fast
    retriever = Retriever.open(resolve_index(args, embedder), embedder)
    return AnswerPipeline(retriever, generator, AnswerConfig(k=args.k, mode=args.mode,
                                                             max_new_tokens=args.max_new_tokens))


def make_generator(kind: str, model: str | None, max_new_tokens: int, embedder, log,
                   precision: str = DEFAULT_PRECISION):
    if kind == "extractive":
        from .answering import terms
        from .extractive import ExtractiveGenerator

        return ExtractiveGenerator(embedder.embed_passages, terms)
    from .generators import GeneratorConfig, load_generator
    from .model_files import DEFAULT_MODEL

    return load_generator(GeneratorConfig(model=model or DEFAULT_MODEL, max_new_tokens=max_new_tokens,
                                          precision=precision), log=log)


def _print_sources(answer) -> None:
    if answer.refused:
        print(f"(refused: {answer.refusal_reason})")
        return
    unsupported = [s.text for s in answer.sentences if not s.supported]
    for text in unsupported:
        print(f"  ⚠ not supported by the passages: {text}")
    print("\nSources:")
    for n, passage, support in answer.cited:
        where = Path(passage.chunk.source).name + (f", page {passage.chunk.page}" if passage.chunk.page else "")
        print(f"  [{n}] {passage.chunk.section_path or '(no section)'}  ({where})")


def _plain(text: str) -> str:
    import re

    return " ".join(re.sub(r"\[\d+\]|[.,;:!?]", " ", text).split()).lower()


def cmd_ask(args) -> int:
    from . import store
    from .retrieval import check_query

    check_query(args.question, args.k, args.mode)
    if args.index is not None:
        store.live_generation(args.index)
    if args.model and args.generator == "extractive":
        raise UserError("--model applies to --generator transformers, not extractive")
    pipeline = make_pipeline(args)
    answer = None
    for event in pipeline.stream(args.question):
        if event.kind == "warning":
            print(f"rag: warning: {event.text}", file=sys.stderr)
        elif event.kind == "token" and not args.json:
            print(event.text, end="", flush=True)
        elif event.kind == "answer":
            answer = event.answer
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
        return 0
    if answer.raw:
        print()
    if answer.refused or _plain(answer.text) != _plain(answer.raw):
        print(f"\nAnswer (checked against the documents): {answer.text}")
    _print_sources(answer)
    return 0


def cmd_eval(args) -> int:
    from eval.runner import EvalSettings, compare, run

    if args.index is not None and not args.questions.is_dir() and args.questions.suffix != ".json":
        from . import store

        store.live_generation(args.index)
    base = EvalSettings(k=args.k, mode=args.mode, generator=args.generator, model=args.model,
                        max_new_tokens=args.max_new_tokens, style=args.style, retrieval_only=args.retrieval_only,
                        precision=args.precision)
    if args.compare:
        summaries = compare(args.questions, args.out, [EvalSettings.from_toml(p, base) for p in args.compare],
                            args.index, args.limit, args.fresh)
    else:
        summaries = [run(args.questions, args.out, base, args.index, args.limit, args.fresh)]
    for summary in summaries:
        shown = {k: v for k, v in summary.items() if k not in {"settings", "question_set"} and v is not None}
        print(json.dumps({"name": summary["settings"]["name"], **shown}))
    print(f"report: {args.out / 'report.html'}", file=sys.stderr)
    return 0


COMMANDS = {"index": cmd_index, "search": cmd_search, "ask": cmd_ask, "eval": cmd_eval}


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
