"""A throttle on failed logins per client address, as ASGI middleware around Gradio's /login.

Gradio's auth callback sees only the user name and password, not who is asking, so the limit
sits in front of the route: failures are counted from its responses (400 = wrong credentials),
and an address over the limit gets 429 without its password being checked at all.
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

    def failed(self, address: str, now: float) -> None:
        self._recent(address, now)
        self.failures.setdefault(address, deque()).append(now)


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
        wait = self.throttle.wait_s(address, self.clock())
        if wait > 0:
            body = json.dumps({"detail": f"Too many failed logins from {address}; try again in {wait:.0f} s."})
            await send({"type": "http.response.start", "status": 429,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"retry-after", str(max(1, round(wait))).encode())]})
            await send({"type": "http.response.body", "body": body.encode()})
            return

        async def counting_send(message):
            if message["type"] == "http.response.start" and message["status"] == 400:
                self.throttle.failed(address, self.clock())
            await send(message)

        await self.app(scope, receive, counting_send)
