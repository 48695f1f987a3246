"""One live WebSocket to the server, from ``welcome`` until it drops.

The runner opens the socket, says ``hello`` and waits for ``welcome`` (:func:`await_welcome`);
from then on a :class:`Connection` runs three loops side by side until the first one ends:

* the reader decodes the server's frames and acts on them (``send`` goes to the send path,
  ``ack`` to the outbox, ``ping`` is answered);
* the writer sends the outbox's durable frames in order, all of them again on a new connection,
  so that nothing is lost between a drop and a reconnect;
* the watchdog pings a quiet server and closes the socket on a silent one, so that the runner
  reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeAlias

from simgate.agent.outbox import Outbox
from simgate.protocol import (
    CLOSE_HEARTBEAT_TIMEOUT,
    AckFrame,
    ErrorFrame,
    Frame,
    PingFrame,
    PongFrame,
    ProtocolError,
    SendFrame,
    UnknownFrame,
    WelcomeFrame,
    decode_frame,
    encode_frame,
)

__all__ = ["Connection", "SendHandler", "Transport", "await_welcome"]

log = logging.getLogger(__name__)

SendHandler: TypeAlias = Callable[["Connection", SendFrame], Awaitable[None]]
"""What the reader calls with each ``send`` frame (the runner's send path)."""


class Transport(Protocol):
    """What a connection uses of its transport: a websockets ``ClientConnection``, or the
    HTTP long-poll fallback (:class:`~simgate.agent.longpoll.LongPollTransport`). Both raise
    ``websockets.exceptions.ConnectionClosed`` once the connection is over."""

    async def send(self, message: str, /) -> None: ...

    async def recv(self) -> str | bytes: ...

    def __aiter__(self) -> AsyncIterator[str | bytes]: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


async def await_welcome(ws: Transport) -> WelcomeFrame:
    """The server's ``welcome`` after our ``hello`` (the caller bounds the wait).

    Pings are answered meanwhile; anything else before ``welcome`` is logged and ignored.
    """
    while True:
        message = await ws.recv()
        try:
            frame = decode_frame(message)
        except ProtocolError as exc:
            log.warning("ignoring a malformed frame before welcome: %s", exc)
            continue
        if isinstance(frame, WelcomeFrame):
            return frame
        if isinstance(frame, PingFrame):
            await ws.send(encode_frame(PongFrame()))
        elif isinstance(frame, ErrorFrame):
            log.warning("server error before welcome: %s: %s", frame.code, frame.message)
        else:
            log.debug("ignoring %s before welcome", type(frame).__name__)


class Connection:
    """One live, welcomed WebSocket (or long-poll session): what has been sent on it and when
    the server last spoke."""

    def __init__(
        self, ws: Transport, heartbeat: int, *, outbox: Outbox, on_send: SendHandler
    ) -> None:
        self.ws = ws
        self.heartbeat = heartbeat
        self.sent_upto = 0  # highest outbox seq written to this connection
        self.last_received = time.monotonic()
        self._outbox = outbox
        self._on_send = on_send

    async def send(self, frame: Frame) -> None:
        await self.ws.send(encode_frame(frame))

    async def serve(self) -> None:
        """Run the reader, the writer and the watchdog until one of them ends, then stop the
        others and re-raise what ended the connection (``ConnectionClosed``, usually)."""
        tasks = [
            asyncio.create_task(self._read_loop(), name="agent-reader"),
            asyncio.create_task(self._write_loop(), name="agent-writer"),
            asyncio.create_task(self._watchdog(), name="agent-watchdog"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # re-raise what ended the connection

    async def _read_loop(self) -> None:
        async for message in self.ws:
            self.last_received = time.monotonic()
            try:
                frame = decode_frame(message)
            except ProtocolError as exc:
                log.warning("ignoring a malformed frame from the server: %s", exc)
                continue
            await self._dispatch(frame)

    async def _dispatch(self, frame: Frame | UnknownFrame) -> None:
        if isinstance(frame, SendFrame):
            await self._on_send(self, frame)
        elif isinstance(frame, AckFrame):
            if self._outbox.acknowledge(frame.id) is None:
                log.debug("ack for %s, which is not pending", frame.id)
        elif isinstance(frame, PingFrame):
            await self.send(PongFrame())
        elif isinstance(frame, ErrorFrame):
            log.warning("the server reported an error: %s: %s", frame.code, frame.message)
        elif isinstance(frame, UnknownFrame):
            log.debug("ignoring a frame of unknown type %r", frame.type)
        elif not isinstance(frame, PongFrame):
            log.debug("ignoring an unexpected %s frame", frame.TYPE)

    async def _write_loop(self) -> None:
        """Send durable outbox frames in order; on a new connection, all of them again."""
        flushed = self._outbox.flushed
        while True:
            flushed.clear()
            batch = self._outbox.pending_after(self.sent_upto)
            if not batch:
                await flushed.wait()
                continue
            for item in batch:
                if self._outbox.pending(item.frame.id) is not None:  # not acked meanwhile
                    await self.send(item.frame)
                self.sent_upto = item.seq

    async def _watchdog(self) -> None:
        """Ping a quiet server; give up on a silent one (websockets' keepalive may not notice a
        server whose event loop is stuck while its TCP stack still answers)."""
        period = self.heartbeat
        while True:
            await asyncio.sleep(period)
            idle = time.monotonic() - self.last_received
            if idle > 3 * period + 10:
                log.warning("no frame from the server for %.0f s; reconnecting", idle)
                await self.ws.close(CLOSE_HEARTBEAT_TIMEOUT, "no frame from the server")
                return
            if idle >= 1.5 * period:
                await self.send(PingFrame())
