"""Joining a Ray cluster: the module present, the address reachable in seconds, and Ray's own
failures and chatter turned into one line. Shared by the Ray indexing engine and Ray Serve."""
from __future__ import annotations

import contextlib
import os
import socket

from rag.errors import UserError


def ray_module():
    try:
        import ray
    except ImportError as exc:
        raise UserError("--engine ray needs Ray: pip install -e '.[ray]'") from exc
    return ray


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """An unreachable cluster is a one-line error in seconds, not Ray's minute of retries."""
    if address == "auto":
        return
    host_port = address.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--ray-address {address!r} is not HOST:PORT, ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise UserError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from exc


def start_failure(address: str | None, exc: BaseException) -> str:
    """One line; a cluster that wants its token says how to give it (Ray's own message is a page)."""
    where = f"join the Ray cluster at {address}" if address else "start a local Ray"
    if "AuthenticationError" in repr(exc.__cause__) or "InvalidAuthToken" in str(exc.__cause__):
        return (f"cannot {where}: it needs its authentication token; set RAY_AUTH_MODE=token and put "
                "the token in ~/.ray/auth_token or RAY_AUTH_TOKEN (ray get-auth-token)")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return f"cannot {where}: {first}"


@contextlib.contextmanager
def silenced_stderr():
    """File descriptor 2 to /dev/null: Ray's C++ core writes there directly, past Python's logging."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
