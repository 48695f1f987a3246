"""Reports from many phones are stored together, and a phone need not wait for each ack.

A busy gateway drains its queue only as fast as it stores ``sent`` reports: one transaction
per report held a 50 000-message drain to ~150 msg/s. Reports that arrive together now share
statements and commits, and a phone's burst of reports is read without waiting for each commit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.dispatch.test_window_and_leases import AT, send_sms, sends_within, states
from tests.support.handphone import connected
from tests.support.server import LiveServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

PHONES = 4
WINDOW = 8


class SentStatements:
    """Counts the statements that move messages to sent, as the server executes them."""

    def __init__(self, server: LiveServer) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._engine = server.ctx.db.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        text = " ".join(statement.split()).upper()
        rows = params if isinstance(params, list) else [params]
        if text.startswith("UPDATE MESSAGES") and any(
            "sent" in (row.values() if isinstance(row, dict) else row) for row in rows
        ):
            with self._lock:
                self.count += 1

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


async def test_a_burst_of_reports_from_several_phones_shares_statements(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory(device_window=WINDOW)
    account = server.create_account()
    paired = [server.add_device(account, label=f"phone {index}") for index in range(PHONES)]
    async with AsyncExitStack() as stack:
        phones = [await stack.enter_async_context(connected(server, p.token)) for p in paired]
        guids = await send_sms(server, account, count=PHONES * WINDOW)
        held = await asyncio.gather(*(sends_within(phone, 1.5) for phone in phones))
        assert sorted(guid for window in held for guid in window) == sorted(guids)
        counter = SentStatements(server)
        try:
            # Every phone reports its whole window at once, without waiting for an ack.
            for phone, window in zip(phones, held, strict=True):
                for guid in window:
                    await phone.send({"type": "sent", "id": f"s-{guid}", "guid": guid, "at": AT})
            acks = await asyncio.gather(
                *(_acks(phone, len(window)) for phone, window in zip(phones, held, strict=True))
            )
        finally:
            counter.close()
    assert sorted(ack for phone_acks in acks for ack in phone_acks) == sorted(
        f"s-{guid}" for guid in guids
    )
    assert set((await states(server, account)).values()) == {"sent"}
    # One statement per report was the old way; shared ones are far fewer.
    assert counter.count <= len(guids) // 4, counter.count


async def test_a_delivery_report_right_behind_its_sent_report_is_kept(
    server_factory: Callable[..., LiveServer],
) -> None:
    """The phone does not wait for the ack of ``sent`` before ``delivered``: the delivery
    report must still find the message sent, not be dropped as early."""
    server = server_factory(device_window=WINDOW)
    account = server.create_account()
    paired = server.add_device(account)
    async with connected(server, paired.token) as phone:
        guids = await send_sms(server, account, count=3)
        assert await sends_within(phone, 1.0) == guids
        for guid in guids:
            await phone.send({"type": "sent", "id": f"s-{guid}", "guid": guid, "at": AT})
            await phone.send({"type": "delivered", "id": f"d-{guid}", "guid": guid, "at": AT + 5})
        assert len(await _acks(phone, 2 * len(guids))) == 2 * len(guids)
    log = await _sent_log(server, account.api_key)
    assert {row["guid"]: bool(row["delivered"]) for row in log} == dict.fromkeys(guids, True)


async def _acks(phone: Any, count: int) -> list[str]:
    return [str((await asyncio.wait_for(phone.next("ack"), 5))["id"]) for _ in range(count)]


async def _sent_log(server: LiveServer, api_key: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/log/sent/sms/", params={"apikey": api_key})
    return list(response.json()["result"]["sms"])


async def test_a_backlog_of_received_sms_is_stored_in_shared_commits(
    server_factory: Callable[..., LiveServer],
) -> None:
    """A phone back online hands over its backlog at once: each SMS is acked after its
    commit, stored once, and the backlog does not cost one commit per SMS."""
    server = server_factory(device_window=WINDOW)
    account = server.create_account()
    paired = [server.add_device(account, label=f"phone {index}") for index in range(2)]
    commits: list[int] = []
    engine = server.ctx.db.engine.sync_engine

    def count(_conn: Any) -> None:
        commits.append(1)

    async with AsyncExitStack() as stack:
        phones = [await stack.enter_async_context(connected(server, p.token)) for p in paired]
        event.listen(engine, "commit", count)
        try:
            for index in range(20):
                phone = phones[index % 2]
                frame = {"type": "received", "id": f"r-{index}", "number": f"+3247000{index:04d}"}
                await phone.send({**frame, "text": f"reply {index}", "at": AT})
            # The same frame again, as after a reconnect: stored once.
            await phones[0].send(
                {"type": "received", "id": "r-0", "number": "+32470000000", "text": "reply 0"}
            )
            acks = await asyncio.gather(_acks(phones[0], 11), _acks(phones[1], 10))
        finally:
            event.remove(engine, "commit", count)
    assert sorted(acks[0] + acks[1]) == sorted([f"r-{index}" for index in range(20)] + ["r-0"])
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/getsms/", params={"apikey": account.api_key})
    texts = sorted(sms["message"] for sms in response.json()["result"]["sms"])
    assert texts == sorted(f"reply {index}" for index in range(20))
    assert len(commits) <= 10, len(commits)


async def test_phones_connecting_at_once_share_their_handshake_commits(
    server_factory: Callable[..., LiveServer],
) -> None:
    """After a server restart every phone reconnects at once: their hello and held-messages
    writes share transactions instead of queueing one by one for the write lock."""
    server = server_factory()
    account = server.create_account()
    paired = [server.add_device(account, label=f"phone {index}") for index in range(12)]
    commits: list[int] = []
    engine = server.ctx.db.engine.sync_engine

    def count(_conn: Any) -> None:
        commits.append(1)

    event.listen(engine, "commit", count)
    try:
        async with AsyncExitStack() as stack:
            await asyncio.gather(
                *(stack.enter_async_context(connected(server, p.token)) for p in paired)
            )
            # Connected and live: a message to each reaches the phones.
            assert len(await send_sms(server, account, count=12)) == 12
    finally:
        event.remove(engine, "commit", count)
    # Two commits per phone (hello, held) was the old way, before anything else.
    assert len(commits) < 2 * len(paired), len(commits)
