"""Idle and slow-header connections are closed, over real sockets, on both HTTP protocols.

A connection must deliver a complete request head within ``request_head_timeout_seconds`` of
opening or of its previous response; otherwise enough of them (never sending a byte, or one
header line now and then) would hold the server's sockets for ever.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from simgate.serving import DeadlineH11Protocol, DeadlineHttpToolsProtocol
from tests.conftest import make_settings
from tests.support.databases import SqliteFactory
from tests.support.server import LiveServer

HEAD_TIMEOUT = 0.5
KEEP_ALIVE = 1
#: Room for a loaded test machine on top of a deadline.
SLACK = 2.0
REQUEST = b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.fixture(scope="module", params=[DeadlineHttpToolsProtocol, DeadlineH11Protocol])
def server(request: pytest.FixtureRequest, sqlite_factory: SqliteFactory) -> Iterator[LiveServer]:
    """A server with a short request-head deadline, on each of uvicorn's HTTP protocols."""
    url = sqlite_factory.new()
    live = LiveServer(
        lambda base: make_settings(
            url,
            base,
            request_head_timeout_seconds=HEAD_TIMEOUT,
            keep_alive_timeout_seconds=KEEP_ALIVE,
        ),
        http=request.param,
    ).start()
    yield live
    live.stop()


def connect_raw(server: LiveServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def seconds_until_closed(sock: socket.socket, limit: float) -> float:
    """How long the server takes to close ``sock`` (what it sends meanwhile is discarded)."""
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open for {limit} s") from None
    return time.monotonic() - start


def peer_closed(sock: socket.socket) -> bool:
    """Whether the server has closed ``sock``, without waiting."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.settimeout(5)


def read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length body, read off a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection before answering"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


class TestRequestHeadDeadline:
    def test_a_connection_that_never_sends_a_byte_is_closed(self, server: LiveServer) -> None:
        with connect_raw(server) as sock:
            waited = seconds_until_closed(sock, HEAD_TIMEOUT + SLACK)
        assert waited >= HEAD_TIMEOUT * 0.8

    def test_many_silent_connections_are_all_closed(self, server: LiveServer) -> None:
        socks = [connect_raw(server) for _ in range(50)]
        try:
            for sock in socks:
                seconds_until_closed(sock, HEAD_TIMEOUT + SLACK)
        finally:
            for sock in socks:
                sock.close()

    def test_half_a_head_trickled_slowly_is_closed_at_the_deadline(
        self, server: LiveServer
    ) -> None:
        """Bytes that keep coming do not extend the deadline: only a complete head stops it."""
        with connect_raw(server) as sock:
            start = time.monotonic()
            sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            closed = False
            for n in range(int((HEAD_TIMEOUT + SLACK) / 0.1)):
                time.sleep(0.1)
                try:
                    sock.sendall(b"X-Slow-%d: 1\r\n" % n)
                except OSError:  # broken pipe or reset: the server has closed it
                    closed = True
                if closed or peer_closed(sock):
                    break
            assert closed or peer_closed(sock)
            assert time.monotonic() - start < HEAD_TIMEOUT + SLACK

    def test_a_complete_head_in_time_is_answered(self, server: LiveServer) -> None:
        with connect_raw(server) as sock:
            sock.sendall(REQUEST)
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")

    def test_a_kept_alive_connection_that_starts_a_head_and_stalls_is_closed(
        self, server: LiveServer
    ) -> None:
        """After a response the next head has the same deadline, even once a byte arrived
        (the first byte cancels uvicorn's own keep-alive timer)."""
        with connect_raw(server) as sock:
            sock.sendall(REQUEST)
            read_response(sock)
            sock.sendall(b"GET /openapi.json HTTP/1.1\r\n")
            seconds_until_closed(sock, HEAD_TIMEOUT + SLACK)

    def test_a_kept_alive_connection_serves_several_requests_then_idles_out(
        self, server: LiveServer
    ) -> None:
        with connect_raw(server) as sock:
            for _ in range(3):
                sock.sendall(REQUEST)
                assert read_response(sock).startswith(b"HTTP/1.1 200 ")
            waited = seconds_until_closed(sock, KEEP_ALIVE + SLACK)
        assert waited < KEEP_ALIVE + SLACK

    def test_a_device_websocket_outlives_the_deadline(self, server: LiveServer) -> None:
        """Only HTTP heads have a deadline; an upgraded connection is the device's to keep."""
        account = server.create_account()
        device = server.add_device(account)
        url = server.url.replace("http://", "ws://", 1) + "/device/ws"
        headers = {"Authorization": f"Bearer {device.token}"}
        with connect(url, additional_headers=headers, open_timeout=5) as ws:
            time.sleep(HEAD_TIMEOUT * 3)
            assert ws.ping().wait(5)


def test_the_deadline_is_a_setting_with_a_sane_lower_bound() -> None:
    with pytest.raises(ValueError, match="request_head_timeout_seconds"):
        make_settings("sqlite+aiosqlite://", "http://x", request_head_timeout_seconds=0)
    assert make_settings("sqlite+aiosqlite://", "http://x").request_head_timeout_seconds == 15
