"""The `rag` command: index, search, ask, eval. A front end over `rag.assemble`; heavy imports
live inside each branch, so `rag --help` is instant."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rag.errors import UserError
from rag.settings import SEARCH_K, Parser, Settings, add_settings_arguments


def say(text: str = "", end: str = "\n", file=None) -> None:
    """Print for a terminal: document and model text can hold escape sequences that would set the
    window title or clear the screen; they are stripped (`--json` output stays exact)."""
    from rag.render import strip_controls

    print(strip_controls(text), end=end, file=file or sys.stdout, flush=True)


class Status:
    """One line on stderr naming the slow phase under way, rewritten in place; on a terminal only
    (a script reading stderr gets the warnings and the draft, not a ticker)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.shown = False

    def __call__(self, text: str) -> None:
        if self.stream.isatty():
            print(f"\r\x1b[2K{text}", end="", file=self.stream, flush=True)
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            print("\r\x1b[2K", end="", file=self.stream, flush=True)
            self.shown = False


def _add_index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", type=Path, default=None,
                        help="index folder (default: an index of the bundled sample, built on first use)")


def plugin_commands():
    """Functions that add a subcommand, from packages that register one (entry point group
    "rag.commands"): each adds its parser with `set_defaults(handler=...)`."""
    from importlib.metadata import entry_points

    return [ep.load() for ep in sorted(entry_points(group="rag.commands"), key=lambda ep: ep.name)]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rag", description="Ask questions of your documents, locally.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("index", help="build or update an index from files or folders")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    _add_index_option(p)
    add_settings_arguments(p, retrieval=False, generation=False, reading=True)
    p.add_argument("--faiss", default="auto",
                   help='FAISS factory string, e.g. "Flat" or "HNSW32" (default auto: exact below 50,000 chunks, HNSW32 above)')
    p.add_argument("--quiet", action="store_true", help="no progress display (shown on a terminal only)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="where reading and embedding run: this process, or a Ray cluster (extra: .[ray])")
    p.add_argument("--ray-address", default=None, metavar="ADDRESS",
                   help="join this Ray cluster (auto, HOST:PORT or ray://HOST:10001); default: start a local Ray")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="embedding actors for --engine ray (default: one per CPU of the cluster)")
    p.add_argument("--meta", action="append", default=[], metavar="FIELD=VALUE",
                   help="correct the document card of each FILE named (saved beside it as FILE.card.json): "
                        "organisation, kind, fiscal_year, quarter, period_end, date, title, aliases")

    p = sub.add_parser("search", help="show the passages retrieved for a question")
    p.add_argument("question")
    _add_index_option(p)
    add_settings_arguments(p, generation=False, k=SEARCH_K)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("ask", help="answer a question from the documents, with cited sections")
    p.add_argument("question")
    _add_index_option(p)
    add_settings_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("facts", help="show the financial-statement facts read from a document at indexing")
    p.add_argument("file", type=Path, metavar="FILE")
    _add_index_option(p)
    p.add_argument("--item", default=None, help="only this standard line item (e.g. revenue, total assets)")
    p.add_argument("--all", action="store_true",
                   help="also the cells of tables that are no statement and of captions that are no standard line item")
    p.add_argument("--json", action="store_true", help="print JSON")

    for command in plugin_commands():  # `rag eval` comes from the eval package: rag never imports it
        command(sub)
    return parser


def cmd_index(args) -> int:
    from rag import paths
    from rag.library import Engine, Library, correct_cards

    settings = Settings.from_args(args)
    engine = Engine(args.engine, args.ray_address, args.workers)
    engine.check()
    library = Library(settings, args.index or paths.default_index_dir())
    library.check_sources(args.paths)
    if args.meta:
        correct_cards(args.paths, args.meta)
    status = Status()
    report = library.index(args.paths, engine, faiss=args.faiss, progress=not args.quiet and sys.stderr.isatty(),
                           loading=status)
    status.clear()
    print(f"{library.index_dir}: {report.summary()}")
    return 0


def _check_index(settings: Settings, index_dir: Path | None) -> None:
    """A missing or foreign index fails before any model loads."""
    if index_dir is not None:
        from rag.library import Library

        Library(settings, index_dir).check_index()


def cmd_search(args) -> int:
    from rag import assemble
    from rag.query import Query

    settings = Settings.from_args(args)
    query = Query.checked(args.question, settings.k, settings.mode)  # before any model loads
    _check_index(settings, args.index)
    found = assemble.open_searcher(settings, args.index).search(query)
    if found.scope.missing:
        say(found.scope.missing)
        return 0
    if found.scope.reason and not args.json:
        say(f"Documents: {found.scope.reason}\n")
    if args.json:
        print(json.dumps({"passages": [p.to_json() for p in found.retrieved], "documents": found.scope.reason or None,
                          "flagged": [{"rank": p.rank, "chunk_id": p.chunk.chunk_id, "phrase": found.flagged[p.chunk.chunk_id]}
                                      for p in found.retrieved if p.chunk.chunk_id in found.flagged]},
                         ensure_ascii=False, indent=2))
        return 0
    if not found.retrieved:
        say("no passages matched")
    for p in found.retrieved:
        from rag.render import source_place

        say(f"[{p.rank}] {p.score:.4f}  {p.chunk.section_path or '(no section)'}  ({source_place(p)})")
        if phrase := found.flagged.get(p.chunk.chunk_id):
            say(f"    set aside: addresses the assistant ({phrase!r}); never used to answer")
        text = p.chunk.text if len(p.chunk.text) <= 400 else p.chunk.text[:400] + "…"
        say("    " + text.replace("\n", "\n    ") + "\n")
    return 0


def _print_sources(answer) -> None:
    from rag.render import flagged_lines, source_place

    if answer.refused:
        say(f"(refused: {answer.refusal_reason})")
        for line in flagged_lines(answer):
            say("  " + line)
        return
    unsupported = [s.text for s in answer.sentences if not s.supported]
    for text in unsupported:
        say(f"  ⚠ not supported by the passages: {text}")
    if answer.scope:
        say(f"\nDocuments: {answer.scope}")
    say("\nSources:")
    for c in answer.cited:
        say(f"  [{c.n}] {c.passage.chunk.section_path or '(no section)'}  ({source_place(c.passage)})")
    for line in flagged_lines(answer):
        say("  " + line)


def cmd_ask(args) -> int:
    from rag import assemble
    from rag.query import Query
    from rag.records import Final, Notice, Token

    settings = Settings.from_args(args)
    query = Query.checked(args.question, settings.k, settings.mode)  # before any model loads
    _check_index(settings, args.index)
    status = Status()
    status("loading the index and the model…")
    assistant = assemble.open_assistant(settings, args.index, log=lambda m: (status.clear(), say(m, file=sys.stderr)))
    status("searching the documents and reading the passages…")
    # The model's draft is not the answer (a planted passage can steer it): it goes to stderr,
    # marked as a draft and dimmed on a terminal; stdout carries only the checked answer.
    dim, plain = ("\x1b[2m", "\x1b[0m") if sys.stderr.isatty() else ("", "")
    answer, drafting = None, False
    for event in assistant.ask(query):
        status.clear()
        if isinstance(event, Notice):
            say(f"rag: warning: {event.text}", file=sys.stderr)
        elif isinstance(event, Token) and not args.json:
            if not drafting:
                print(f"{dim}draft: ", end="", file=sys.stderr)
                drafting = True
            say(event.text, end="", file=sys.stderr)
        elif isinstance(event, Final):
            answer = event.answer
    status.clear()
    if drafting:
        print(plain, file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
        return 0
    say(f"Answer (checked against the documents): {answer.text}")
    if answer.confidence and not answer.refused:
        say(f"Confidence: {answer.confidence}")
    _print_sources(answer)
    return 0


def cmd_facts(args) -> int:
    from rag import paths
    from rag.library import Library
    from rag.render import facts_table

    source, shown = Library(Settings.from_args(args), args.index or paths.default_index_dir()).facts(
        args.file, args.item, args.all)
    if args.json:
        print(json.dumps([f.to_json() for f in shown], ensure_ascii=False, indent=2))
    elif not shown and args.item:  # the filing may have statement facts, none of them this item
        say(f"no statement fact for '{args.item}' was read from {Path(source).name} (without --item: every "
            f"line item read; --all: every table cell)")
    elif not shown:
        say(f"no statement facts were read from {Path(source).name}" + ("" if args.all else " (--all shows every table cell)"))
    else:
        say(facts_table(shown))
    return 0


COMMANDS = {"index": cmd_index, "search": cmd_search, "ask": cmd_ask, "facts": cmd_facts}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    try:
        from rag.assemble import prefer_offline, quiet_library_warnings

        quiet_library_warnings()
        prefer_offline(Settings.from_args(args))
        return (COMMANDS.get(args.command) or args.handler)(args)
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
