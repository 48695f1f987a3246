"""A message no phone took within its TTL ends expired, with the reason in ``error_api``.

Time passes by moving the server's clock (``ctx.clock``) forward, never by sleeping: the
scheduler reads that clock, so a day's TTL runs out in a moment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from simgate import bus
from simgate.client import Client
from simgate.clock import now_ms
from simgate.dispatch import scheduler
from simgate.domain import expiry
from simgate.domain.states import MessageState
from simgate.services import delivery
from simgate.services.devices import Device
from simgate.store import messages as message_store
from tests.conftest import eventually
from tests.support.api import NUMBER, device_of, refused, send_sms, sent_log
from tests.support.handphone import connected
from tests.support.server import Account, LiveServer

pytestmark = pytest.mark.timeout(60)


class ShiftedClock:
    """The server's clock, moved forward on demand."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> int:
        return now_ms() + self.offset_ms

    def advance(self, seconds: float) -> None:
        self.offset_ms += int(seconds * 1000)


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


def wake_scheduler(server: LiveServer) -> None:
    """Make the server's scheduler look at the store now, as a new scheduled message would."""

    async def publish() -> None:
        server.ctx.bus.publish(bus.SCHEDULE, "0")

    server.call(publish())


def status(http: httpx.Client, account: Account, guid: str) -> dict[str, object]:
    [row] = sent_log(http, account, guid_message=guid)
    return row


def after_tick(server: LiveServer, http: httpx.Client, account: Account, guid: str) -> str:
    """The message's status once a scheduler tick has run to its end on the server's loop.

    A tick of its own rather than waking the server's: a test that expects nothing to change
    must know the look has happened, not merely been asked for.
    """

    async def tick() -> None:
        looker = scheduler.Scheduler(server.ctx)
        try:
            await looker.tick()
        finally:
            await looker.close()

    server.call(tick())
    return str(status(http, account, guid)["status"])


def expired_row(http: httpx.Client, account: Account, guid: str) -> dict[str, object]:
    row = eventually(lambda: (r := status(http, account, guid))["status"] == "expired" and r)
    assert isinstance(row, dict)
    return row


class TestTtl:
    def test_a_message_no_phone_took_within_its_ttl_ends_expired_with_the_reason(
        self, shared_servers: Callable[..., LiveServer], engine: str, clock: ShiftedClock
    ) -> None:
        server = shared_servers(engine=engine)
        server.ctx.clock = clock
        account = server.create_account()
        with server.client() as http:
            guid = send_sms(http, account, ttl="300")
            clock.advance(299)
            assert after_tick(server, http, account, guid) == "queued"
            clock.advance(2)
            wake_scheduler(server)
            row = expired_row(http, account, guid)
            assert row["error_api"] == "expired: not handed to a phone within 300 s"
            assert row["send_from_mobile"] == "0"
            assert [r["guid"] for r in sent_log(http, account, error_api="1")] == [guid]

    def test_without_a_ttl_the_servers_setting_applies(
        self, shared_servers: Callable[..., LiveServer], clock: ShiftedClock
    ) -> None:
        server = shared_servers(message_ttl_seconds=120)
        server.ctx.clock = clock
        account = server.create_account()
        with server.client() as http:
            guid = send_sms(http, account)
            clock.advance(119)
            assert after_tick(server, http, account, guid) == "queued"
            clock.advance(2)
            wake_scheduler(server)
            row = expired_row(http, account, guid)
            assert row["error_api"] == "expired: not handed to a phone within 120 s"

    def test_the_default_setting_is_one_day(
        self, shared_servers: Callable[..., LiveServer], clock: ShiftedClock
    ) -> None:
        server = shared_servers()
        assert server.settings.message_ttl_seconds == 86_400
        server.ctx.clock = clock
        account = server.create_account()
        with server.client() as http:
            guid = send_sms(http, account)
            clock.advance(86_399)
            assert after_tick(server, http, account, guid) == "queued"
            clock.advance(2)
            wake_scheduler(server)
            expired_row(http, account, guid)

    def test_a_scheduled_messages_ttl_counts_from_its_schedule_time(
        self, shared_servers: Callable[..., LiveServer], engine: str, clock: ShiftedClock
    ) -> None:
        server = shared_servers(engine=engine)
        server.ctx.clock = clock
        account = server.create_account()
        with server.client() as http:
            at = int(time.time()) + 3600
            guid = send_sms(http, account, schedule_timestamp=str(at), ttl="60")
            clock.advance(3600 + 30)  # due for half a minute: queued, not expired
            assert after_tick(server, http, account, guid) == "queued"
            clock.advance(40)
            wake_scheduler(server)
            row = expired_row(http, account, guid)
            assert row["error_api"] == "expired: not handed to a phone within 60 s"

    def test_a_scheduled_message_whose_ttl_also_passed_expires_in_one_look(
        self, shared_servers: Callable[..., LiveServer], clock: ShiftedClock
    ) -> None:
        """The server was down past both the schedule and the TTL: expired, never sent late."""
        server = shared_servers()
        server.ctx.clock = clock
        account = server.create_account()
        with server.client() as http:
            at = int(time.time()) + 600
            guid = send_sms(http, account, schedule_timestamp=str(at), ttl="60")
            clock.advance(3 * 3600)
            wake_scheduler(server)
            expired_row(http, account, guid)

    @pytest.mark.parametrize("value", ["59", "2592001", "1.5", "-60", "day"])
    def test_a_ttl_out_of_bounds_or_not_whole_is_a_400_and_nothing_is_stored(
        self, shared_servers: Callable[..., LiveServer], value: str
    ) -> None:
        server = shared_servers()
        account = server.create_account()
        with server.client() as http:
            params = {"apikey": account.api_key, "recipients": NUMBER, "message": "x", "ttl": value}
            response = http.get("/sendsms/", params=params)
            assert response.status_code == 400, response.text
            assert (response.json()["error"], response.json()["parameter"]) == (
                "invalid_parameter",
                "ttl",
            )
            assert sent_log(http, account) == []

    def test_the_bounds_are_accepted(self, shared_servers: Callable[..., LiveServer]) -> None:
        server = shared_servers()
        account = server.create_account()
        with server.client() as http:
            send_sms(http, account, ttl="60")
            send_sms(http, account, ttl="2592000")


class TestClient:
    def test_the_clients_ttl_is_the_apis(
        self, shared_servers: Callable[..., LiveServer], clock: ShiftedClock
    ) -> None:
        server = shared_servers()
        server.ctx.clock = clock
        account = server.create_account()
        with Client(server.url, account.api_key) as client, server.client() as http:
            guid = client.send(NUMBER, "x", ttl=90).id
            clock.advance(91)
            wake_scheduler(server)
            row = expired_row(http, account, guid)
            assert row["error_api"] == "expired: not handed to a phone within 90 s"


class TestHandedToAPhone:
    @pytest.mark.anyio
    async def test_a_message_a_phone_was_handed_never_expires_even_back_in_the_queue(
        self, server_factory: Callable[..., LiveServer], clock: ShiftedClock
    ) -> None:
        server = server_factory(lease_seconds=600)
        server.ctx.clock = clock
        account = server.create_account()
        phone = server.add_device(account)
        with server.client() as http:
            guid = send_sms(http, account, ttl="60")
            async with connected(server, phone.token) as device:
                frame = await asyncio.wait_for(device.next("send"), timeout=10)
                assert frame["guid"] == guid
                await device.send({"type": "accepted", "guid": guid})  # the phone has it
                await device.send({"type": "ping"})
                await device.next("pong")
                clock.advance(120)  # past the TTL, while the phone holds it
                assert await asyncio.to_thread(after_tick, server, http, account, guid) == (
                    "dispatched"
                )
            clock.advance(600)  # past the lease: back in the queue, for another phone
            assert await asyncio.to_thread(after_tick, server, http, account, guid) == "queued"
            clock.advance(86_400)
            assert await asyncio.to_thread(after_tick, server, http, account, guid) == "queued"


class TestResend:
    def test_a_resent_message_has_a_fresh_ttl_from_the_resend(
        self, shared_servers: Callable[..., LiveServer], engine: str, clock: ShiftedClock
    ) -> None:
        server = shared_servers(engine=engine)
        server.ctx.clock = clock
        account = server.create_account()
        phone = server.add_device(account)
        with server.client() as http:
            guid = send_sms(http, account, ttl="60")
            hand_over(server, device_of(server, phone), guid)
            report_failed_only(server, device_of(server, phone), guid)
            clock.advance(600)  # the first TTL is long gone
            params = {"apikey": account.api_key, "guid": guid, "ttl": "120"}
            assert http.post("/resend/", data=params).json()["status"] == "queued"
            clock.advance(100)
            assert after_tick(server, http, account, guid) == "queued"
            clock.advance(30)
            wake_scheduler(server)
            row = expired_row(http, account, guid)
            assert row["error_api"] == "expired: not handed to a phone within 120 s"
            assert row["send_from_mobile_sIdentifiant"] == ""

    def test_a_resend_without_ttl_gets_the_servers_setting(
        self, shared_servers: Callable[..., LiveServer], clock: ShiftedClock
    ) -> None:
        server = shared_servers(message_ttl_seconds=300)
        server.ctx.clock = clock
        account = server.create_account()
        phone = server.add_device(account)
        with server.client() as http:
            guid = send_sms(http, account, ttl="60")
            hand_over(server, device_of(server, phone), guid)
            report_failed_only(server, device_of(server, phone), guid)
            assert http.get("/resend/", params={"apikey": account.api_key, "guid": guid}).is_success
            clock.advance(299)
            assert after_tick(server, http, account, guid) == "queued"
            clock.advance(2)
            wake_scheduler(server)
            row = expired_row(http, account, guid)
            assert row["error_api"] == "expired: not handed to a phone within 300 s"

    def test_an_expired_message_cannot_be_resent_nor_cancelled(
        self, shared_servers: Callable[..., LiveServer], clock: ShiftedClock
    ) -> None:
        server = shared_servers()
        server.ctx.clock = clock
        account = server.create_account()
        with server.client() as http:
            guid = send_sms(http, account, ttl="60")
            clock.advance(61)
            wake_scheduler(server)
            expired_row(http, account, guid)
            params = {"apikey": account.api_key, "guid": guid}
            for path in ("/resend/", "/cancel/"):
                body = refused(http.get(path, params=params), 409, "state_conflict")
                assert body["status"] == "expired"


class TestWakeUp:
    def test_the_scheduler_wakes_when_the_first_message_expires_without_being_told(
        self, server_factory: Callable[..., LiveServer], clock: ShiftedClock
    ) -> None:
        server = server_factory()
        server.ctx.clock = clock
        account = server.create_account()
        with server.client() as http:
            guid = send_sms(http, account, ttl="60")
            clock.advance(58.5)
            wake_scheduler(server)  # it looks once, then sleeps until the expiry (1.5 s)
            expired_row(http, account, guid)

    def test_next_wakeup_is_the_earliest_expiry_of_a_waiting_message(
        self, server_factory: Callable[..., LiveServer], clock: ShiftedClock
    ) -> None:
        server = server_factory()
        server.ctx.clock = clock
        account = server.create_account()
        with server.client() as http:
            send_sms(http, account, ttl="600")
            sent_at = clock()
            send_sms(http, account, ttl="300")
        upcoming = server.call(_next_wakeup(server))
        assert upcoming is not None
        assert sent_at + 300_000 <= upcoming <= clock() + 300_000

    def test_no_ttl_is_shorter_than_the_schedulers_longest_sleep(self) -> None:
        """A message stored while the scheduler sleeps is seen before it can expire."""
        assert scheduler.MAX_SLEEP <= expiry.MIN_TTL_SECONDS


async def _next_wakeup(server: LiveServer) -> int | None:
    async with server.ctx.db.connect() as conn:
        return await message_store.next_wakeup(conn, server.ctx.clock())


def hand_over(server: LiveServer, device: Device, guid: str) -> None:
    """Hand ``guid`` to ``device`` as the dispatcher's claim does (``dispatched_ms`` set)."""

    async def claim() -> None:
        now = server.ctx.clock()
        async with server.ctx.db.begin() as conn:
            row = await message_store.transition(
                conn,
                device.account_id,
                guid,
                MessageState.DISPATCHED,
                values={
                    "device_id": device.id,
                    "device_sid": device.sid,
                    "dispatched_ms": now,
                    "lease_until_ms": now + 600_000,
                },
            )
        assert row is not None

    server.call(claim())


def report_failed_only(server: LiveServer, device: Device, guid: str) -> None:
    """The phone reports a failure that is not worth an automatic retry."""
    outcome = server.call(
        delivery.report_failed(server.ctx, device, guid, "no credit", operator=False)
    )
    assert outcome is delivery.Report.FAILED
