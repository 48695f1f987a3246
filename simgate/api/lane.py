"""The compatible endpoints' own short path through the server.

FastAPI documents every compatible route (``routing.compat_route``), but serving one through
FastAPI costs more than the endpoint itself: under load, its OpenTelemetry check (environment
reads on every request), error, telemetry and body-limit layers, the match over some fifty
routes, the exit-stack middleware and the per-request dependency solving took about half of the
main thread while ``/sendsms/`` ran (docs/benchmarks.md). These endpoints take only the request
and need none of that, so :class:`Gateway` puts :class:`CompatLane` in front of FastAPI: it finds
them with one dictionary lookup and calls them directly. Everything else (docs, probes,
dashboard, WebSocket, unknown paths, other methods, which answer 405) goes on to FastAPI
unchanged.

What a request sees does not change: the same handler, the same error mapping
(``errors.error_response`` for simgate's named errors, ``errors.unexpected`` for anything else),
and ``scope["route"]`` and ``scope["app"]`` set as the router sets them, for the access log, the
metrics labels and the handlers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from simgate.api.errors import error_response, unexpected
from simgate.api.observer import RequestObserver
from simgate.api.routing import CompatRoute
from simgate.domain.errors import SimgateError


class CompatLane:
    """Pure-ASGI app serving :class:`CompatRoute` routes by exact (path, method), and the
    WebSocket routes in ``sockets`` by path; every other request goes on to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Iterable[BaseRoute],
        owner: Any,
        sockets: Iterable[WebSocketRoute] = (),
    ) -> None:
        self.app = app
        self._owner = owner
        self._table = {
            (route.path, method): route
            for route in routes
            if isinstance(route, CompatRoute)
            for method in route.methods or ()
        }
        self._sockets = {route.path: route for route in sockets}

    @property
    def served(self) -> frozenset[tuple[str, str]]:
        """The (path, method) pairs this lane answers; every other request goes on."""
        return frozenset(self._table)

    @property
    def sockets(self) -> frozenset[str]:
        """The WebSocket paths this lane serves."""
        return frozenset(self._sockets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            route = self._table.get((_route_path(scope), scope["method"]))
            if route is not None:
                scope["route"] = route
                scope["app"] = self._owner
                await self._serve(route, scope, receive, send)
                return
        elif kind == "websocket":
            socket = self._sockets.get(_route_path(scope))
            if socket is not None:
                # A phone's connection: after a restart thousands arrive at once, and each
                # would otherwise pass FastAPI's whole stack and its route matching.
                scope["route"] = socket
                scope["app"] = self._owner
                await socket.handle(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _serve(route: CompatRoute, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except SimgateError as exc:
            response = error_response(request, exc)
        except Exception as exc:  # the last place that can answer for the endpoint
            response = unexpected(request, exc)
        await response(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path as the router matches it: without the ``root_path`` a proxy mounted us under."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :]
    return path


class Gateway(FastAPI):
    """FastAPI with simgate's front door ahead of its whole middleware stack.

    Every HTTP request passes :class:`RequestObserver` first (timing, access log, metrics), then
    :class:`CompatLane`; only what the lane does not serve enters FastAPI. Lifespan events go
    straight to FastAPI. Until :meth:`open_front` is called, everything goes to FastAPI.
    """

    def __init__(self, *, access_log: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._access_log = access_log
        self._front: ASGIApp | None = None
        self.lane: CompatLane | None = None

    def open_front(
        self, routes: Iterable[BaseRoute], sockets: Iterable[WebSocketRoute] = ()
    ) -> None:
        """Serve the compatible ``routes`` and the WebSocket ``sockets`` through the lane from
        now on (they stay in the router too, for what reads its routes)."""
        self.lane = CompatLane(self._behind, routes=routes, owner=self, sockets=sockets)
        self._front = RequestObserver(self.lane, access_log=self._access_log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self._front
        if front is None or scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
        else:
            await front(scope, receive, send)

    async def _behind(self, scope: Scope, receive: Receive, send: Send) -> None:
        await FastAPI.__call__(self, scope, receive, send)
