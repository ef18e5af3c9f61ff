"""`rag eval`: the evaluation's subcommand, registered with the `rag` command through the
"rag.commands" entry point (pyproject.toml), so that rag itself never imports eval."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.settings import STYLES, Settings, add_settings_arguments, positive_int


def add_command(sub) -> None:
    p = sub.add_parser("eval", help="run a question set and report retrieval, answer, citation and refusal quality")
    p.add_argument("questions", type=Path, help="JSON Lines set, SQuAD .json file, or BEIR folder")
    p.add_argument("--index", type=Path, default=None, help="index of the documents (JSON Lines sets; default: sample)")
    p.add_argument("--out", type=Path, required=True, help="folder for results.jsonl, summary.json and the report")
    add_settings_arguments(p)
    p.add_argument("--style", choices=STYLES, default=None)
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # accepted, as by search and ask
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N questions")
    p.add_argument("--fresh", action="store_true", help="discard earlier results instead of resuming")
    p.add_argument("--retrieval-only", action="store_true", help="measure retrieval only (no answers)")
    p.add_argument("--serve", metavar="ADDRESS", default=None,
                   help="send the questions, several at once, to the answering replicas running on the Ray "
                        "cluster at ADDRESS (python app.py --serve ray --ray-address ADDRESS); k and mode are "
                        "this run's, the model is the replicas'; the index must be a path the replicas can read")
    p.add_argument("--compare", type=Path, nargs="+", metavar="TOML",
                   help="configuration files (keys: the settings, e.g. k, mode, generator, model, precision, "
                        "max_new_tokens, style, focus_sentences) to compare")
    p.set_defaults(handler=cmd_eval)


def cmd_eval(args) -> int:
    from eval.runner import EvalRun, compare, run

    if args.index is not None and not args.questions.is_dir() and args.questions.suffix != ".json":
        from rag.library import Library

        Library(Settings.from_args(args), args.index).check_index()  # fails before any model loads
    base = EvalRun(settings=Settings.from_args(args), retrieval_only=args.retrieval_only)
    if args.serve is not None:
        from rag.errors import UserError

        from rag.serving import check_reachable

        if args.compare or args.retrieval_only:
            raise UserError("--serve answers with the replicas' settings: it cannot be combined with --compare "
                            "or --retrieval-only")
        if args.serve != "auto":
            check_reachable(args.serve)  # before the index is built and the embedder loads
        summaries = [run(args.questions, args.out, base, args.index, args.limit, args.fresh, serve=args.serve)]
    elif args.compare:
        runs = [base.with_toml(p) for p in args.compare]  # every file is checked before anything loads
        summaries = compare(args.questions, args.out, runs, args.index, args.limit, args.fresh)
    else:
        summaries = [run(args.questions, args.out, base, args.index, args.limit, args.fresh)]
    for summary in summaries:
        shown = {k: v for k, v in summary.items() if k not in {"settings", "question_set"} and v is not None}
        print(json.dumps({"name": summary["settings"]["name"], **shown}))
    print(f"report: {args.out / 'report.html'}", file=sys.stderr)
    return 0
