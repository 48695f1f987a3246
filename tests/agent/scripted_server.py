"""A scripted stand-in for the simgate server, speaking device protocol 1 over real WebSockets.

The real server is another layer (written by another team at the same time); the agent tests pin
the agent's side of the protocol against this small double built on ``websockets.serve`` over
loopback, so every frame crosses a real WebSocket. It records every frame it receives and lets a
test send frames, withhold acks and drop the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from simgate.agent.drivers.base import Driver
from simgate.agent.drivers.simulator import SimulatorDriver
from simgate.agent.runner import AgentConfig, AgentRunner, ReconnectPolicy

TOKEN = "device-token-for-tests"
SID = "dev_test_1"
ACKED_TYPES = {"sent", "failed", "received", "mobile_sent"}
WAIT_SECONDS = 5.0

Frame = dict[str, Any]


class ScriptedServer:
    """A minimal protocol-1 server: checks the token, answers hello, records, acks, pongs."""

    def __init__(self, *, token: str = TOKEN, heartbeat: int = 30) -> None:
        self.token = token
        self.heartbeat = heartbeat
        self.ack: Callable[[Frame], bool] = lambda _frame: True
        self.attempts = 0  # WebSocket connections opened, including refused tokens
        self.hellos: list[Frame] = []
        self.frames: list[tuple[int, Frame]] = []  # (connection number, frame), after hello
        self.current: ServerConnection | None = None
        self._server: Server | None = None
        self._changed = asyncio.Event()  # pulsed on every hello and every recorded frame

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    @property
    def connections(self) -> int:
        return len(self.hellos)

    async def __aenter__(self) -> ScriptedServer:
        self._server = await serve(self._handler, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handler(self, ws: ServerConnection) -> None:
        self.attempts += 1
        assert ws.request is not None
        if ws.request.path != "/device/ws":
            await ws.close(4404, "not found")
            return
        if ws.request.headers.get("Authorization") != f"Bearer {self.token}":
            await ws.close(4401, "invalid device token")
            return
        with contextlib.suppress(ConnectionClosed):
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello"
            self.hellos.append(hello)
            self._changed.set()
            number = len(self.hellos)
            self.current = ws
            await self._send(
                ws,
                {
                    "type": "welcome",
                    "protocol": 1,
                    "sid": SID,
                    "label": "Test phone",
                    "heartbeat": self.heartbeat,
                },
            )
            async for message in ws:
                frame = json.loads(message)
                self.frames.append((number, frame))
                self._changed.set()
                if frame.get("type") in ACKED_TYPES and self.ack(frame):
                    await self._send(ws, {"type": "ack", "id": frame["id"]})
                elif frame.get("type") == "ping":
                    await self._send(ws, {"type": "pong"})

    @staticmethod
    async def _send(ws: ServerConnection, frame: Frame) -> None:
        await ws.send(json.dumps(frame))

    async def send(self, frame: Frame) -> None:
        """Send a frame on the current connection."""
        assert self.current is not None
        await self._send(self.current, frame)

    async def drop(self) -> None:
        """Close the current connection the way a restarting server does."""
        assert self.current is not None
        await self.current.close(1012, "service restart")

    def of_type(self, frame_type: str, *, connection: int | None = None) -> list[Frame]:
        return [
            frame
            for number, frame in self.frames
            if frame.get("type") == frame_type and connection in (None, number)
        ]

    async def wait_for(
        self, frame_type: str, count: int = 1, *, connection: int | None = None
    ) -> list[Frame]:
        """Wait until ``count`` frames of ``frame_type`` arrived; returns all of them."""
        await self._until(lambda: len(self.of_type(frame_type, connection=connection)) >= count)
        return self.of_type(frame_type, connection=connection)

    async def wait_connections(self, count: int) -> None:
        """Wait until the agent has said hello ``count`` times."""
        await self._until(lambda: self.connections >= count)

    async def _until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                self._changed.clear()
                if condition():
                    return
                await self._changed.wait()


def send_frame(guid: str, **overrides: Any) -> Frame:
    frame: Frame = {
        "type": "send",
        "guid": guid,
        "to": "+32470123456",
        "text": f"hello {guid[:6]}",
        "sim": 1,
        "channel": "sms",
        "parts": 1,
    }
    frame.update(overrides)
    return frame


def guid(n: int) -> str:
    return f"{n:040x}"


def read_lines(path: Path) -> list[Frame]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


class AgentFactory:
    """Builds runners on one state dir and runs them in the background for a test."""

    def __init__(self, tmp_path: Path) -> None:
        self.state_dir = tmp_path / "state"
        self.outbox_file = tmp_path / "outbox.jsonl"

    def simulator(self, **options: Any) -> SimulatorDriver:
        options.setdefault("outbox_file", self.outbox_file)
        return SimulatorDriver(**options)

    def runner(
        self, server: ScriptedServer, driver: Driver | None = None, **config: Any
    ) -> AgentRunner:
        config.setdefault("reconnect", ReconnectPolicy(initial=0.05, maximum=0.2))
        config.setdefault("stop_grace", 2.0)
        return AgentRunner(
            AgentConfig(
                server=config.pop("url", None) or server.url,
                token=config.pop("token", server.token),
                state_dir=self.state_dir,
                driver=driver if driver is not None else self.simulator(),
                **config,
            )
        )

    @contextlib.asynccontextmanager
    async def running(
        self, server: ScriptedServer, driver: Driver | None = None, **config: Any
    ) -> AsyncIterator[AgentRunner]:
        """Run an agent until the block ends, then stop it gracefully (and check it stopped)."""
        runner = self.runner(server, driver, **config)
        task = asyncio.create_task(runner.run())
        connected = asyncio.create_task(runner.wait_connected())
        try:
            await asyncio.wait(
                {task, connected}, timeout=WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            if task.done():
                task.result()  # the run ended early: show why
            assert connected.done(), "the agent did not connect"
            yield runner
        finally:
            connected.cancel()
            runner.stop()
            async with asyncio.timeout(10):
                await task
