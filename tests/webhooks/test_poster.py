"""The webhook POST client against raw loopback receivers answering in each way HTTP allows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from simgate.webhooks.poster import Poster, PostError

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Receiver:
    """A raw TCP receiver: reads each request, answers with the test's bytes."""

    def __init__(self, answers: list[bytes], *, close_after: bool = False) -> None:
        self.answers = answers
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answers.pop(0))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def serve(receiver: Receiver) -> AsyncIterator[str]:
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook?x=1"
    finally:
        server.close()
        await server.wait_closed()


async def post_all(receiver: Receiver, count: int) -> list[object]:
    results: list[object] = []
    async for url in serve(receiver):
        async with Poster(5) as poster:
            for _ in range(count):
                try:
                    results.append(await poster.post(url, b'{"a":1}', {"X-Sig": "v1=ab"}, keep=8))
                except PostError as exc:
                    results.append(exc)
    return results


async def test_keep_alive_answers_reuse_one_connection_and_the_request_is_complete() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    receiver = Receiver([answer, answer, answer])
    results = await post_all(receiver, 3)
    assert [(r.status, r.body) for r in results] == [(200, b"ok")] * 3  # type: ignore[attr-defined]
    assert receiver.connections == 1
    first = receiver.requests[0]
    assert first.startswith(b"POST /hook?x=1 HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in first
    assert b"\r\nX-Sig: v1=ab\r\n" in first
    assert first.endswith(b'\r\n\r\n{"a":1}')


async def test_chunked_answers_with_trailers_are_read_to_the_end_and_kept_short() -> None:
    chunked = (
        b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    receiver = Receiver([chunked, b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"])
    results = await post_all(receiver, 2)
    assert [(r.status, r.body) for r in results] == [  # type: ignore[attr-defined]
        (500, b"hello, w"),
        (204, b""),
    ]
    assert receiver.connections == 1


async def test_an_answer_ended_by_closing_and_connection_close_are_not_reused() -> None:
    receiver = Receiver(
        [
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
            b"HTTP/1.0 202 Accepted\r\n\r\nno length at all",
        ],
        close_after=True,
    )
    results = await post_all(receiver, 2)
    assert [(r.status, r.body) for r in results] == [  # type: ignore[attr-defined]
        (200, b"ok"),
        (202, b"no lengt"),
    ]
    assert receiver.connections == 2


async def test_an_interim_100_continue_is_skipped() -> None:
    receiver = Receiver(
        [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"]
    )
    [result] = await post_all(receiver, 1)
    assert result.status == 201  # type: ignore[attr-defined]


async def test_a_receiver_that_closed_an_idle_connection_is_posted_to_again() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    receiver = Receiver([answer, answer], close_after=True)  # closes after each answer
    results = await post_all(receiver, 2)
    assert [r.status for r in results] == [200, 200]  # type: ignore[attr-defined]
    assert receiver.connections == 2


async def test_silence_refusal_and_garbage_are_errors_without_the_url() -> None:
    released = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await released.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with Poster(0.3) as poster:
        with pytest.raises(PostError, match="timeout") as timed_out:
            await poster.post(f"http://127.0.0.1:{port}/h?apikey=s3cret", b"{}", {}, keep=8)
    released.set()
    server.close()
    await server.wait_closed()
    assert "s3cret" not in str(timed_out.value)
    async with Poster(2) as poster:
        with pytest.raises(PostError):
            await poster.post(f"http://127.0.0.1:{port}/h", b"{}", {}, keep=8)  # now refused
    garbage = Receiver([b"SSH-2.0-OpenSSH\r\n\r\n"])
    [result] = await post_all(garbage, 1)
    assert isinstance(result, PostError)
    assert "not HTTP" in str(result)
