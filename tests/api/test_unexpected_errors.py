"""An exception no handler expected is answered with the documented JSON 500, logged once without
the query string, and the keep-alive connection it came on stays open for the next request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from structlog.testing import capture_logs

from tests.conftest import make_settings
from tests.contract import validate
from tests.support.databases import SqliteFactory
from tests.support.server import LiveServer

SECRET = "sk_this_must_never_reach_a_log"


async def broken(request: Request) -> Response:
    raise RuntimeError("a bug in a route")


async def broken_midway(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"the start of an answer"
        raise RuntimeError("a bug after the answer started")

    return StreamingResponse(body())


@pytest.fixture(scope="module")
def server(sqlite_factory: SqliteFactory) -> Iterator[LiveServer]:
    """A server whose own app instance has two routes that fail (nothing ships them)."""
    url = sqlite_factory.new()
    live = LiveServer(lambda base: make_settings(url, base))
    live.app.add_api_route("/test-broken/", broken, methods=["GET"])
    live.app.add_api_route("/test-broken-midway/", broken_midway, methods=["GET"])
    live.start()
    yield live
    live.stop()


def local_port(response: httpx.Response) -> int:
    """The client-side port of the connection that carried ``response``."""
    stream = response.extensions["network_stream"]
    return int(stream.get_extra_info("client_addr")[1])


class TestUnexpectedExceptions:
    def test_the_answer_is_the_documented_500(self, server: LiveServer) -> None:
        with server.client() as http:
            response = http.get("/test-broken/")
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        validate(body, "simgate.Error")
        assert body == {
            "success": False,
            "error": "internal_error",
            "message": "Something went wrong on the server.",
        }

    def test_the_keep_alive_connection_survives_a_500(self, server: LiveServer) -> None:
        with server.client() as http:
            before = http.get("/openapi.json")
            first = local_port(before)
            failed = http.get("/test-broken/")
            second = local_port(failed)
            after = http.get("/openapi.json")
            third = local_port(after)
        assert (before.status_code, failed.status_code, after.status_code) == (200, 500, 200)
        assert "close" not in failed.headers.get("connection", "")
        assert first == second == third

    def test_it_is_logged_once_without_the_query_string(self, server: LiveServer) -> None:
        with capture_logs() as logs, server.client() as http:
            http.get("/test-broken/", params={"apikey": SECRET})
        errors = [entry for entry in logs if entry["event"] == "unhandled_error"]
        assert len(errors) == 1
        assert errors[0]["path"] == "/test-broken/"
        assert errors[0]["error"] == "RuntimeError"
        assert SECRET not in repr(logs)

    def test_a_failure_after_the_answer_started_closes_only_that_connection(
        self, server: LiveServer
    ) -> None:
        """Half an answer cannot be completed: the client sees it cut, the server goes on."""
        with server.client() as http, pytest.raises(httpx.RemoteProtocolError):
            http.get("/test-broken-midway/")
        with server.client() as http:
            assert http.get("/openapi.json").status_code == 200
