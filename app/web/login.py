"""A throttle on failed logins per client address, as ASGI middleware around Gradio's /login.

Gradio's auth callback sees only the user name and password, not who is asking, so the limit
sits in front of the route. Each attempt takes a slot before its password is checked, in the same
step as the check (parallel guesses cannot all pass the check before any is counted); a login that
succeeds gives its slot back. An address with no slot left gets 429 without its password being
checked at all. The address is the socket's: the app trusts X-Forwarded-For only from proxies the
user names (see app.launch).
"""
from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field

LOGIN_PATHS = ("/login", "/login/")


@dataclass
class LoginThrottle:
    """At most `limit` failed logins per address in any `window_s` seconds."""

    limit: int = 10
    window_s: float = 60.0
    failures: dict[str, deque] = field(default_factory=dict)

    def _recent(self, address: str, now: float) -> deque:
        times = self.failures.setdefault(address, deque())
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self.failures[address]  # the table holds only addresses that failed lately
            return deque()
        return times

    def wait_s(self, address: str, now: float) -> float:
        """Seconds until this address may try again; 0 when it may now."""
        times = self._recent(address, now)
        return self.window_s - (now - times[0]) if len(times) >= self.limit else 0.0

    def attempt(self, address: str, now: float) -> float:
        """Check and count in one step: 0 and a slot taken, or the seconds to wait (nothing taken).

        >>> t = LoginThrottle(limit=2); [t.attempt("a", 0.0), t.attempt("a", 1.0), t.attempt("a", 2.0) > 0]
        [0.0, 0.0, True]
        """
        wait = self.wait_s(address, now)
        if wait == 0.0:
            self.failures.setdefault(address, deque()).append(now)
        return wait

    def succeeded(self, address: str, stamp: float) -> None:
        """A login that passed gives back the slot its attempt took."""
        times = self.failures.get(address)
        if times and stamp in times:
            times.remove(stamp)
            if not times:
                del self.failures[address]


class LoginThrottleMiddleware:
    """ASGI middleware: refuses /login from an address over the throttle, counts 400 answers."""

    def __init__(self, app, limit: int = 10, window_s: float = 60.0, clock=time.monotonic):
        self.app = app
        self.throttle = LoginThrottle(limit, window_s)
        self.clock = clock

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or not scope["path"].endswith(LOGIN_PATHS):
            return await self.app(scope, receive, send)
        address = (scope.get("client") or ("unknown", 0))[0]
        stamp = self.clock()
        wait = self.throttle.attempt(address, stamp)  # no await between the check and the count
        if wait > 0:
            body = json.dumps({"detail": f"Too many failed logins from {address}; try again in {wait:.0f} s."})
            await send({"type": "http.response.start", "status": 429,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"retry-after", str(max(1, round(wait))).encode())]})
            await send({"type": "http.response.body", "body": body.encode()})
            return

        async def counting_send(message):
            if message["type"] == "http.response.start" and message["status"] != 400:
                self.throttle.succeeded(address, stamp)  # 400 = wrong credentials: the slot stays taken
            await send(message)

        await self.app(scope, receive, counting_send)
