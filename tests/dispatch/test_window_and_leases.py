"""The dispatcher hands each phone a bounded window, keeps a live phone's leases, requeues a
vanished phone's work when its lease ends, and retries a failed drain at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from simgate.dispatch import dispatcher as dispatcher_module
from tests.support.handphone import Phone, connected
from tests.support.server import Account, LiveServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

AT = 1_767_225_600_000


async def send_sms(server: LiveServer, account: Account, count: int = 1, **extra: str) -> list[str]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get(
            "/sendsms/",
            params={
                "apikey": account.api_key,
                "recipients": ",".join(f"+3247012{index:04d}" for index in range(count)),
                "message": "x",
                **extra,
            },
        )
    assert response.status_code == 200, response.text
    return [str(guid) for guid in response.json()["result"]["ids"]]


async def states(server: LiveServer, account: Account) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/log/sent/sms/", params={"apikey": account.api_key})
    return {str(sms["guid"]): str(sms["status"]) for sms in response.json()["result"]["sms"]}


async def sends_within(phone: Phone, seconds: float) -> list[str]:
    """The GUIDs of the ``send`` frames that arrive within ``seconds``."""
    guids: list[str] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = await asyncio.wait_for(phone.next("send"), timeout=left)
        except TimeoutError:
            break
        guids.append(str(frame["guid"]))
    return guids


class TestWindow:
    async def test_a_phone_holds_at_most_its_window_and_each_report_refills_it(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        server = shared_servers(device_window=2)
        account = server.create_account()
        phone = server.add_device(account)
        async with connected(server, phone.token) as device:
            guids = await send_sms(server, account, count=5)
            first = await sends_within(device, 1.0)
            assert first == guids[:2]
            await device.send({"type": "sent", "id": "a", "guid": first[0], "at": AT})
            assert await sends_within(device, 1.0) == [guids[2]]


class TestLeases:
    async def test_a_slow_live_phone_keeps_its_messages_past_the_lease(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        """Lease 5 s, the phone takes 8 s: its leases are renewed, the other phone gets none,
        even when a scheduled message wakes the scheduler after the first lease ran out."""
        server = shared_servers(lease_seconds=5, device_window=1)
        account = server.create_account()
        slow = server.add_device(account, "slow")
        other = server.add_device(account, "other")
        async with connected(server, slow.token) as slow_phone:
            [guid] = await send_sms(server, account)
            assert await sends_within(slow_phone, 1.0) == [guid]
            async with connected(server, other.token) as other_phone:
                wake_at = str(int(time.time()) + 6)
                [later] = await send_sms(server, account, schedule_timestamp=wake_at)
                got = await sends_within(other_phone, 8.0)
                assert guid not in got
                assert later in got
                await slow_phone.send({"type": "sent", "id": "s", "guid": guid, "at": AT})
                await slow_phone.next("ack")
        assert (await states(server, account))[guid] == "sent"

    async def test_a_vanished_phones_message_goes_to_another_phone_when_its_lease_ends(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        server = shared_servers(lease_seconds=5)
        account = server.create_account()
        gone = server.add_device(account, "gone")
        other = server.add_device(account, "other")
        async with connected(server, gone.token) as gone_phone:
            [guid] = await send_sms(server, account)
            assert await sends_within(gone_phone, 1.0) == [guid]
        started = time.monotonic()
        async with connected(server, other.token) as other_phone:
            pushed = await asyncio.wait_for(other_phone.next("send"), timeout=20)
            # Due about 5 s after the claim: not at the scheduler's next safety tick (60 s).
            assert time.monotonic() - started < 8.0
        assert pushed["guid"] == guid


class TestRetry:
    async def test_a_failed_claim_is_retried_at_once_not_at_the_next_safety_tick(
        self, server_factory: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        server = server_factory()
        account = server.create_account()
        phone = server.add_device(account)
        real_claim = dispatcher_module.dispatch_store.due_candidates
        failures = [OperationalError("claim", {}, Exception("database is locked"))]

        async def flaky_claim(*args: Any, **kwargs: Any) -> Any:
            if failures:
                raise failures.pop()
            return await real_claim(*args, **kwargs)

        monkeypatch.setattr(dispatcher_module.dispatch_store, "due_candidates", flaky_claim)
        async with connected(server, phone.token) as device:
            [guid] = await send_sms(server, account)
            assert await sends_within(device, 3.0) == [guid]
        assert failures == []
