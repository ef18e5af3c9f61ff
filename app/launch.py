"""Starting the app: its command line, the checks on it, and the server with its guards."""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import threading
from pathlib import Path

from app.state import AppConfig, AppState
from app.ui import CSS, build_app, theme
from app.web.guard import SessionCheckMiddleware, one_line_errors
from app.web.uploads import MAX_UPLOAD_MB
from rag.errors import UserError
from rag.settings import Parser, Settings, add_settings_arguments


def default_index_for(docs: list[Path]) -> Path:
    from rag import paths

    if [d.resolve() for d in docs] == [paths.sample_document()]:
        return paths.default_index_dir()
    key = hashlib.sha1("\n".join(sorted(str(d.resolve()) for d in docs)).encode()).hexdigest()[:10]
    return paths.home() / "indexes" / f"app-{key}"


def parse_args(argv=None) -> argparse.Namespace:
    from rag import paths

    parser = Parser(prog="app", description="Chat with your documents in the browser, locally.")
    parser.add_argument("--docs", nargs="+", type=Path, default=[paths.sample_document()],
                        help="files or folders to index (default: the bundled sample)")
    parser.add_argument("--index", type=Path, help="index folder (default: one per document set, in the user cache)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("RAG_PORT", 7860)))
    add_settings_arguments(parser)
    parser.add_argument("--auth", default=os.environ.get("RAG_AUTH"), help="USER:PASS (or set RAG_AUTH)")
    parser.add_argument("--trusted-proxies", default="", metavar="ADDR[,ADDR]",
                        help="reverse proxies whose X-Forwarded-For header names the client (default: none; "
                             "the login throttle counts by socket address)")
    parser.add_argument("--shared-uploads", action="store_true",
                        help="every visitor searches every upload (default: a visitor's uploads are theirs alone)")
    parser.add_argument("--serve", choices=["ray"], help="answer on Ray Serve replicas (pip install -e '.[serve]')")
    parser.add_argument("--ray-address", help="with --serve: join the Ray cluster at auto or HOST:PORT "
                                              "(default: start a local Ray)")
    parser.add_argument("--replicas", type=int, default=1, help="with --serve: answering replicas (default 1)")
    parser.add_argument("--replica-threads", type=int, default=1,
                        help="with --serve: CPU threads of each replica (default 1)")
    return parser.parse_args(argv)


def is_loopback(host: str) -> bool:
    """Only these addresses keep the server private to this machine.

    >>> [is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "192.168.1.4")]
    [True, True, True, False, False]
    """
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_state(args) -> AppState:
    for path in args.docs:
        if not path.exists():
            raise UserError(f"no such file or folder: {path}")
    if args.auth is not None and not all(args.auth.partition(":")[::2]):
        raise UserError("--auth must be USER:PASS, both non-empty")
    if not is_loopback(args.host) and not args.auth:
        raise UserError(f"--host {args.host} opens the documents to the network: give --auth USER:PASS "
                        f"(or RAG_AUTH) too")
    serve = None
    if args.serve:
        from rag.serving import ServeOptions

        if not 1 <= args.replicas <= 64 or not 1 <= args.replica_threads <= 64:
            raise UserError("--replicas and --replica-threads must be between 1 and 64")
        serve = ServeOptions(args.ray_address, args.replicas, args.replica_threads)
    elif args.ray_address or args.replicas != 1 or args.replica_threads != 1:
        raise UserError("--ray-address, --replicas and --replica-threads need --serve ray")
    return AppState(AppConfig(docs=list(args.docs), index=args.index or default_index_for(args.docs),
                              settings=Settings.from_args(args), shared_uploads=args.shared_uploads, serve=serve))


def launch(state: AppState, host: str, port: int, auth: str | None = None, block: bool = True,
           trusted_proxies: str = ""):
    """Serve the app. `trusted_proxies` (comma-separated addresses) are the only peers whose
    X-Forwarded-For names the client: by default the socket's address is the client's, so a
    made-up header cannot dodge the login throttle."""
    os.environ["FORWARDED_ALLOW_IPS"] = trusted_proxies  # read by the uvicorn server Gradio starts
    demo = build_app(state)

    one_line_errors(demo)
    # api_open=False: the direct /run/ routes refuse queued events, so no request skips the queue
    # (one answer at a time) or arrives without the session that keeps uploads private.
    # One answer at a time in this process; under --serve, as many as there are replicas (Serve's
    # router queues the rest).
    replicas = state.config.serve.replicas if state.config.serve is not None else 1
    demo.queue(default_concurrency_limit=replicas, api_open=False)
    threading.Thread(target=state.prepare, daemon=True).start()
    credentials = tuple(auth.split(":", 1)) if auth else None
    from starlette.middleware import Middleware

    from app.web.login import LoginThrottleMiddleware

    demo.launch(server_name=host, server_port=port, auth=credentials, share=False, inbrowser=False,
                app_kwargs={"middleware": [Middleware(LoginThrottleMiddleware), Middleware(SessionCheckMiddleware)]},
                prevent_thread_lock=not block, quiet=not block, max_file_size=f"{MAX_UPLOAD_MB}mb",
                theme=theme(), css=CSS, ssr_mode=False, footer_links=[])
    return demo


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        from rag.assemble import prefer_offline, quiet_library_warnings

        quiet_library_warnings()
        state = make_state(args)
        prefer_offline(state.config.settings)
        if state.config.serve is not None:  # a bad address or an absent cluster: one line now, not later
            from rag.serving import connect, watch_cluster

            connect(state.config.serve.address)
            watch_cluster(state.config.serve.address)
        print(f"Starting on http://{args.host}:{args.port} (Ctrl-C to stop)", file=sys.stderr)
        launch(state, args.host, args.port, args.auth, trusted_proxies=args.trusted_proxies)
    except UserError as exc:
        print(f"app: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"app: error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
