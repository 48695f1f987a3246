"""One pure-ASGI middleware times every HTTP request once, for two readers: the access log (a
line per request: method, path, status, milliseconds) and the Prometheus counters and latency
histogram (by route template, so a label never holds a key, a GUID or a code from a path).

The access log never writes the query string: it holds API keys and message texts. What is
left (the path) goes through the same masking as every log line (``simgate.logs``), which hides
anything shaped like a key or token.

It runs on every request, so it does no work twice: the labelled metric children are looked up
once per (method, route, status), and the access line is built only when the configured level
lets it through.
"""

from __future__ import annotations

import logging
import time

import structlog
from prometheus_client.metrics import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simgate.logs import enabled_for
from simgate.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("simgate.access")

# Anything else would let a client mint label values at will.
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
UNMATCHED = "unmatched"


class RequestObserver:
    def __init__(self, app: ASGIApp, *, access_log: bool) -> None:
        self.app = app
        self.access_log = access_log
        # Bounded: methods are a fixed set, routes the app's templates, statuses a few dozen.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        # The router (or the lane) puts the matched route in the scope it shares with us.
        route = getattr(scope.get("route"), "path", None) or UNMATCHED
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                HTTP_REQUESTS.labels(method=method, route=route, status=str(status)),
                HTTP_LATENCY.labels(method=method, route=route),
            )
            self._children[key] = children
        requests, latency = children
        requests.inc()
        latency.observe(seconds)
        if self.access_log and enabled_for(logging.INFO):
            client = scope.get("client")
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round(seconds * 1000, 1),
                client=client[0] if client else None,
            )
