"""Messages claimed for a phone whose socket broke before they reached it are queued again at
once, not left leased to a dead connection for the whole lease (10 minutes by default)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from simgate.context import Context
from simgate.devices.lifecycle import SessionState
from simgate.devices.session import DeviceSession
from simgate.dispatch.dispatcher import Dispatcher
from simgate.services import accounts, devices, messages, sent_log
from simgate.services.messages import SendRequest
from simgate.store.database import Database
from tests.conftest import make_settings

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


class SocketThatBreaks:
    """The radio edge: a socket that says hello, then breaks on the first ``send`` frame."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self._hello = json.dumps(
            {"type": "hello", "protocol": 1, "version": "t", "driver": "t", "sims": [1]}
        )
        self._closed = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if self._hello:
            hello, self._hello = self._hello, ""
            return {"type": "websocket.receive", "text": hello}
        await self._closed.wait()
        return {"type": "websocket.disconnect", "code": 1006}

    async def send_text(self, text: str) -> None:
        frame = json.loads(text)
        if frame["type"] == "send":
            self._closed.set()
            raise OSError("connection reset by peer")
        self.sent.append(frame)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self._closed.set()


async def test_an_interrupted_delivery_puts_its_messages_back_in_the_queue(
    sqlite_url: str,
) -> None:
    ctx = Context(settings=make_settings(sqlite_url, "http://127.0.0.1"), db=Database(sqlite_url))
    dispatcher = Dispatcher(ctx)
    try:
        account = await accounts.create_account(ctx, "put-back@example.test", "password1")
        paired = await devices.add_device(ctx, "put-back@example.test", "phone")
        device = await devices.authenticate(ctx, paired.token)
        socket = SocketThatBreaks()
        session = DeviceSession(ctx, dispatcher, socket, device)  # type: ignore[arg-type]
        outcome = await messages.send(
            ctx,
            account.account_id,
            SendRequest(recipients="+32470123456,+32470123457", message="x"),
        )
        with pytest.raises(WebSocketDisconnect):
            await asyncio.wait_for(session.run(), timeout=10)
        assert session.state is SessionState.CLOSED
        assert [frame["type"] for frame in socket.sent] == ["welcome"]

        async def states() -> list[str]:
            rows = await sent_log.sent_log(ctx, account.account_id, sent_log.LogQuery())
            return sorted(row.state for row in rows)

        # The socket's end and the put-back race; the put-back is one transaction away.
        deadline = asyncio.get_running_loop().time() + 5
        while await states() != ["queued", "queued"]:
            assert asyncio.get_running_loop().time() < deadline, await states()
            await asyncio.sleep(0.01)
        assert len(outcome.accepted) == 2
    finally:
        await dispatcher.close()
        await ctx.db.dispose()
