"""Several hand-driven phones on one account, through the real server: routing policies, the
SIM port, retries on another phone, pacing under an injected clock, and device health."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from simgate import bus
from simgate.clock import now_ms
from simgate.services import accounts
from tests.support.handphone import Phone
from tests.support.server import Account, LiveServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

AT = 1_767_225_600_000


@pytest.fixture
def live(shared_servers: Callable[..., LiveServer]) -> LiveServer:
    return shared_servers()


@asynccontextmanager
async def phone(
    server: LiveServer, token: str, *, sims: tuple[int, ...] = (1,), **hello: Any
) -> AsyncIterator[Phone]:
    url = server.url.replace("http://", "ws://") + "/device/ws"
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        device = Phone(ws)
        await device.send(
            {"type": "hello", "protocol": 1, "version": "t", "driver": "hand", "sims": list(sims),
             **hello}
        )  # fmt: skip
        await device.next("welcome")
        yield device


async def send_sms(
    server: LiveServer, account: Account, numbers: list[str], **extra: str
) -> list[str]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get(
            "/sendsms/",
            params={"apikey": account.api_key, "recipients": ",".join(numbers), "message": "x",
                    **extra},
        )  # fmt: skip
    assert response.status_code == 200, response.text
    return [str(guid) for guid in response.json()["result"]["ids"]]


async def collect(devices: dict[str, Phone], count: int, within: float = 5) -> dict[str, list[str]]:
    """``count`` send frames in all, gathered from whichever phones get them."""
    got: dict[str, list[str]] = {name: [] for name in devices}
    frames: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def read(name: str, device: Phone) -> None:
        while True:
            frame = await device.next("send")
            await frames.put((name, str(frame["guid"])))

    readers = [asyncio.create_task(read(name, device)) for name, device in devices.items()]
    try:
        for _ in range(count):
            name, guid = await asyncio.wait_for(frames.get(), timeout=within)
            got[name].append(guid)
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return got


def numbers(count: int) -> list[str]:
    return [f"+3247055{index:04d}" for index in range(count)]


class TestPolicies:
    async def test_round_robin_spreads_a_burst_evenly(self, live: LiveServer) -> None:
        account = live.create_account()
        pairs = {name: live.add_device(account, name) for name in ("a", "b")}
        async with AsyncExitStack() as stack:
            devices = {
                n: await stack.enter_async_context(phone(live, p.token)) for n, p in pairs.items()
            }
            await send_sms(live, account, numbers(8))
            got = await collect(devices, 8)
        assert Counter({name: len(guids) for name, guids in got.items()}) == {"a": 4, "b": 4}

    async def test_sticky_keeps_a_conversation_on_its_number(self, live: LiveServer) -> None:
        account = live.create_account()
        live.call(accounts.set_routing_policy(live.ctx, account.email, "sticky"))
        pairs = {name: live.add_device(account, name) for name in ("a", "b")}
        customer = "+32470559999"
        async with AsyncExitStack() as stack:
            devices = {
                n: await stack.enter_async_context(phone(live, p.token)) for n, p in pairs.items()
            }
            # The customer wrote to phone b first.
            await devices["b"].send(
                {"type": "received", "id": "in1", "number": customer, "text": "hi", "at": AT}
            )
            await devices["b"].next("ack")
            for _ in range(3):
                await send_sms(live, account, [customer])
            got = await collect(devices, 3)
        assert got["a"] == []
        assert len(got["b"]) == 3

    async def test_least_loaded_gives_the_next_message_to_the_idle_phone(
        self, live: LiveServer
    ) -> None:
        account = live.create_account()
        live.call(accounts.set_routing_policy(live.ctx, account.email, "least_loaded"))
        busy = live.add_device(account, "busy")
        idle = live.add_device(account, "idle")
        async with phone(live, busy.token) as busy_phone:
            await send_sms(live, account, numbers(3))
            assert len((await collect({"busy": busy_phone}, 3))["busy"]) == 3
            async with phone(live, idle.token) as idle_phone:
                await send_sms(live, account, numbers(2))
                got = await collect({"busy": busy_phone, "idle": idle_phone}, 2)
        assert len(got["idle"]) == 2


class TestEligibility:
    async def test_port_two_goes_only_to_a_phone_with_a_second_sim(self, live: LiveServer) -> None:
        account = live.create_account()
        single = live.add_device(account, "single")
        dual = live.add_device(account, "dual")
        async with (
            phone(live, single.token, sims=(1,)) as one,
            phone(live, dual.token, sims=(1, 2)) as two,
        ):
            guids = await send_sms(live, account, numbers(4), port="2")
            got = await collect({"single": one, "dual": two}, 4)
        assert got == {"single": [], "dual": guids}

    async def test_messages_for_a_sim_no_phone_has_do_not_hold_up_the_queue(
        self, live: LiveServer
    ) -> None:
        """More messages for SIM 2 than a round reads, with only a single-SIM phone online:
        they wait for a phone with that SIM, and the message behind them goes out now."""
        account = live.create_account()
        single = live.add_device(account, "single")
        async with phone(live, single.token, sims=(1,)) as one:
            await send_sms(live, account, numbers(200), port="2")
            [behind] = await send_sms(live, account, ["+32470999999"])
            got = await collect({"single": one}, 1)
        assert got == {"single": [behind]}

    async def test_an_operator_failure_is_retried_on_the_other_phone(
        self, live: LiveServer
    ) -> None:
        account = live.create_account()
        pairs = {name: live.add_device(account, name) for name in ("a", "b")}
        async with AsyncExitStack() as stack:
            devices = {
                n: await stack.enter_async_context(phone(live, p.token)) for n, p in pairs.items()
            }
            [guid] = await send_sms(live, account, numbers(1))
            first = await collect(devices, 1)
            failing = next(name for name, guids in first.items() if guids)
            await devices[failing].send(
                {"type": "failed", "id": "f", "guid": guid, "error": "congestion",
                 "operator": True, "at": AT}
            )  # fmt: skip
            await devices[failing].next("ack")
            live.ctx.clock = lambda: now_ms() + 3_600_000  # past the retry backoff
            live.call(_publish(live, bus.SCHEDULE, str(account.id)))
            again = await collect(devices, 1)
        other = "b" if failing == "a" else "a"
        assert again[other] == [guid]


class TestRetrySettings:
    async def test_the_retry_count_and_first_wait_are_settings(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        """With one retry after 5 s: the first operator failure requeues it for 5 s later, the
        second one leaves it failed."""
        server = shared_servers(retry_max=1, retry_base_seconds=5)
        account = server.create_account()
        paired = server.add_device(account)
        start = now_ms()
        server.ctx.clock = lambda: start
        async with phone(server, paired.token) as device:
            [guid] = await send_sms(server, account, numbers(1))
            for attempt in range(2):
                assert (await collect({"p": device}, 1))["p"] == [guid]
                await device.send(
                    {"type": "failed", "id": f"f{attempt}", "guid": guid, "error": "busy",
                     "operator": True, "at": AT}
                )  # fmt: skip
                await device.next("ack")
                if attempt == 0:
                    server.ctx.clock = lambda: start + 4_000
                    server.call(_publish(server, bus.WORK, str(account.id)))
                    with pytest.raises(TimeoutError):
                        await collect({"p": device}, 1, within=0.3)
                    server.ctx.clock = lambda: start + 5_001
                    server.call(_publish(server, bus.WORK, str(account.id)))
        async with httpx.AsyncClient(base_url=server.url) as client:
            logged = await client.get(
                "/log/sent/sms/", params={"apikey": account.api_key, "guid_message": guid}
            )
        [row] = logged.json()["result"]["sms"]
        assert (row["status"], row["retries"]) == ("failed", 1)


async def _publish(server: LiveServer, topic: str, payload: str) -> None:
    server.ctx.bus.publish(topic, payload)


class TestPacing:
    async def test_six_a_minute_means_one_every_ten_seconds_of_the_servers_clock(
        self, live: LiveServer
    ) -> None:
        account = live.create_account()
        paced = live.add_device(account, "paced")
        async with httpx.AsyncClient(base_url=live.url) as client:
            response = await client.post(
                "/gateway/mobile/update/",
                data={"apikey": account.api_key, "sid": paced.sid, "label": "paced",
                      "rate_per_minute": "6"},
            )  # fmt: skip
        assert response.json()["pacing"]["rate_per_minute"] == 6
        start = now_ms()
        live.ctx.clock = lambda: start
        async with phone(live, paced.token) as device:
            await send_sms(live, account, numbers(3))
            assert len((await collect({"p": device}, 1))["p"]) == 1
            with pytest.raises(TimeoutError):
                await collect({"p": device}, 1, within=0.5)
            live.ctx.clock = lambda: start + 9_000
            live.call(_publish(live, bus.WORK, str(account.id)))
            with pytest.raises(TimeoutError):
                await collect({"p": device}, 1, within=0.5)
            live.ctx.clock = lambda: start + 10_000
            live.call(_publish(live, bus.WORK, str(account.id)))
            assert len((await collect({"p": device}, 1))["p"]) == 1

    async def test_work_waiting_for_a_paced_phone_goes_to_an_unpaced_one(
        self, live: LiveServer
    ) -> None:
        account = live.create_account()
        paced = live.add_device(account, "paced")
        free = live.add_device(account, "free")
        async with (
            phone(live, paced.token, rate_count=1, rate_seconds=3600) as slow,
            phone(live, free.token) as fast,
        ):
            await send_sms(live, account, numbers(5))
            got = await collect({"slow": slow, "fast": fast}, 5)
        assert len(got["slow"]) <= 1
        assert len(got["fast"]) >= 4

    async def test_work_pinned_to_a_paced_phone_goes_out_at_its_next_slot_unprompted(
        self, live: LiveServer
    ) -> None:
        """No report or new message is needed: the dispatcher's own timer sends the next one
        when the phone's slot opens (60 a minute: one a second)."""
        account = live.create_account()
        paced = live.add_device(account, "paced")
        free = live.add_device(account, "free")
        async with httpx.AsyncClient(base_url=live.url) as client:
            await client.post(
                "/gateway/mobile/update/",
                data={"apikey": account.api_key, "sid": paced.sid, "label": "p",
                      "rate_per_minute": "60"},
            )  # fmt: skip
        async with (
            phone(live, paced.token) as slow,
            phone(live, free.token) as fast,
        ):
            pinned = await send_sms(live, account, numbers(2), sIdentifiant=paced.sid)
            await send_sms(live, account, numbers(2))
            first = await collect({"slow": slow, "fast": fast}, 3)
            assert first["slow"] == pinned[:1]
            assert len(first["fast"]) == 2
            second = await collect({"slow": slow}, 1, within=3)
        assert second["slow"] == pinned[1:]


class TestHealth:
    async def test_the_list_shows_charging_limits_and_since_when_online(
        self, live: LiveServer
    ) -> None:
        account = live.create_account()
        paired = live.add_device(account, "health")
        async with phone(
            live, paired.token, charging=True, rate_count=30, rate_seconds=60
        ) as device:
            await device.send({"type": "status", "battery": 40, "charging": False})
            await device.send({"type": "ping"})
            await device.next("pong")
            async with httpx.AsyncClient(base_url=live.url) as client:
                listed = (
                    await client.get("/gateway/mobile/list/", params={"apikey": account.api_key})
                ).json()["items"][0]
        assert listed["online"] is True
        assert listed["charging"] is False
        assert listed["battery"] == 40
        assert listed["online_since"] is not None
        assert listed["offline_since"] is None
        assert listed["reported_rate"] == {"count": 30, "seconds": 60}
        assert listed["pacing"] == {
            "rate_per_minute": None,
            "rate_per_hour": None,
            "daily_cap": None,
        }
