"""The compatible endpoints' own short path through the server.

FastAPI documents every compatible route (``routing.compat_route``), but serving one through
FastAPI's router costs more than the endpoint itself: under load, matching some fifty routes,
the exit-stack middleware and the per-request dependency solving took about 45 % of the main
thread while ``/sendsms/`` ran (docs/benchmarks.md). These endpoints take only the request and
need none of that, so :class:`CompatLane` finds them with one dictionary lookup and calls them
directly. Everything else (docs, probes, dashboard, WebSocket, unknown paths, other methods,
which answer 405) goes on to the router unchanged.

What a request sees does not change: the same handler, the same error mapping
(``errors.error_response`` for simgate's named errors, ``CatchUnexpected`` for anything else),
and ``scope["route"]`` set as the router sets it, for the access log and the metrics labels.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from simgate.api.errors import CatchUnexpected, error_response
from simgate.api.routing import CompatRoute
from simgate.domain.errors import SimgateError


class CompatLane:
    """Pure-ASGI middleware serving :class:`CompatRoute` routes by exact (path, method)."""

    def __init__(self, app: ASGIApp, *, routes: list[BaseRoute]) -> None:
        self.app = app
        self._table = {
            (route.path, method): route
            for route in routes
            if isinstance(route, CompatRoute)
            for method in route.methods or ()
        }
        self._serve = CatchUnexpected(self._endpoint)

    @property
    def served(self) -> frozenset[tuple[str, str]]:
        """The (path, method) pairs this lane answers; every other request goes on."""
        return frozenset(self._table)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            route = self._table.get((path, scope["method"]))
            if route is not None:
                scope["route"] = route
                await self._serve(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        route: CompatRoute = scope["route"]
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except SimgateError as exc:
            response = error_response(request, exc)
        await response(scope, receive, send)
