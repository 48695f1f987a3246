"""A device connection driven by hand over a real WebSocket: every frame is the test's choice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.support.server import LiveServer


class Phone:
    """A hand-driven device connection: send frames, read the server's answers."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def next(self, *types: str) -> dict[str, Any]:
        """The next frame of one of ``types``, skipping pings (answered) and other noise."""
        while True:
            frame: dict[str, Any] = json.loads(await self.ws.recv())
            if frame["type"] == "ping":
                await self.send({"type": "pong"})
            if frame["type"] in types:
                return frame


@asynccontextmanager
async def connected(server: LiveServer, token: str) -> AsyncIterator[Phone]:
    url = server.url.replace("http://", "ws://") + "/device/ws"
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(url, additional_headers=headers) as ws:
        phone = Phone(ws)
        await phone.send(
            {"type": "hello", "protocol": 1, "version": "test/1", "driver": "hand", "sims": [1]}
        )
        welcome = await phone.next("welcome")
        assert welcome["sid"]
        yield phone
