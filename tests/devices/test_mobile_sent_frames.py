"""``mobile_sent`` frames: a phone reports the SMS its owner typed, over a real WebSocket.

These tests speak the device protocol by hand (``websockets`` as the client) so that every
frame on the wire is the test's choice; the last one uses the real agent instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import eventually
from tests.contract import validate
from tests.support.devices import RunningAgent
from tests.support.handphone import connected
from tests.support.server import Account, LiveServer, PairedDevice

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


@pytest.fixture
def server(shared_servers: Callable[..., LiveServer]) -> LiveServer:
    """One live server for the module's tests; each makes its own account and devices."""
    return shared_servers()


AT = int(datetime.now(UTC).timestamp() * 1000) - 60_000


def mobile_sent(frame_id: str | None = None, **fields: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "mobile_sent",
        "id": frame_id or uuid.uuid4().hex,
        "number": "+32470000001",
        "text": "Typed on the phone",
        "at": AT,
        "formatted": "2026-03-13 09:45:12",
    }
    frame.update(fields)
    return {name: value for name, value in frame.items() if value is not None}


def listed(http: httpx.Client, account: Account) -> list[dict[str, Any]]:
    response = http.get("/log/sent/frommobile/", params={"apikey": account.api_key})
    body = response.json()
    validate(body, "simgate.FromMobile")
    return body["data"]  # type: ignore[no-any-return]


class TestStoring:
    async def test_a_frame_is_acked_once_stored_and_then_listed(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        async with connected(server, phone.token) as device:
            frame = mobile_sent("frame-1")
            await device.send(frame)
            assert await device.next("ack", "error") == {"type": "ack", "id": "frame-1"}
            # The ack comes after the commit: the row is visible at once, no waiting.
            [row] = listed(http, account)
        assert row["sIdentifiant"] == phone.sid
        assert row["number"] == "+32470000001"
        assert row["message"] == "Typed on the phone"
        assert row["mobile_date_ms"] == AT
        assert row["mobile_date_formatted"] == "2026-03-13 09:45:12"

    async def test_a_resent_frame_is_acked_again_and_stored_once(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        frame = mobile_sent("same-id")
        async with connected(server, phone.token) as device:
            await device.send(frame)
            assert (await device.next("ack"))["id"] == "same-id"
        # The ack was "lost": the phone reconnects and sends the frame again.
        async with connected(server, phone.token) as device:
            await device.send(frame)
            assert (await device.next("ack"))["id"] == "same-id"
        assert len(listed(http, account)) == 1

    async def test_the_same_frame_id_from_two_phones_is_two_sms(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        other = server.add_device(account, "second")
        for token in (phone.token, other.token):
            async with connected(server, token) as device:
                await device.send(mobile_sent("frame-1"))
                await device.next("ack")
        assert sorted(row["sIdentifiant"] for row in listed(http, account)) == sorted(
            [phone.sid, other.sid]
        )

    async def test_a_national_number_is_stored_in_e164(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        async with connected(server, phone.token) as device:
            await device.send(mobile_sent(number="0470 12 34 56"))
            await device.next("ack")
        assert listed(http, account)[0]["number"] == "+32470123456"

    async def test_without_formatted_the_server_renders_the_time(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        async with connected(server, phone.token) as device:
            await device.send(mobile_sent(formatted=None))
            await device.next("ack")
        expected = datetime.fromtimestamp(AT / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        assert listed(http, account)[0]["mobile_date_formatted"] == expected

    async def test_a_time_written_as_a_float_is_accepted(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        async with connected(server, phone.token) as device:
            await device.send(mobile_sent(at=float(AT)))
            await device.next("ack")
        assert listed(http, account)[0]["mobile_date_ms"] == AT


class TestMalformedFrames:
    @pytest.mark.parametrize(
        "fields",
        [
            {"id": None},
            {"id": ""},
            {"number": None},
            {"number": ""},
            {"text": None},
            {"text": 5},
            {"at": None},
            {"at": "yesterday"},
            {"at": -1},
            {"at": True},
            {"formatted": 12},
            {"formatted": "x" * 257},
        ],
    )
    async def test_is_answered_with_an_error_then_acked_and_stores_nothing(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        phone: PairedDevice,
        fields: dict[str, Any],
    ) -> None:
        frame = mobile_sent("bad", **fields)  # a None value drops the field
        async with connected(server, phone.token) as device:
            await device.send(frame)
            answer = await device.next("ack", "error")
            assert answer["type"] == "error"
            assert answer["code"] == "invalid_frame"
            if isinstance(frame.get("id"), str) and frame["id"]:
                # Acked all the same: the frame can never become valid, and an unacked frame
                # would be resent by the agent after every reconnect, forever.
                assert await device.next("ack", "error") == {"type": "ack", "id": "bad"}
            # The connection stays usable: the next good frame is stored and acked.
            await device.send(mobile_sent("good"))
            assert await device.next("ack", "error") == {"type": "ack", "id": "good"}
        assert [row["message"] for row in listed(http, account)] == ["Typed on the phone"]


class TestRealAgent:
    async def test_an_sms_typed_on_the_simulated_phone_reaches_the_log(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        phone: PairedDevice,
        agents: Callable[..., RunningAgent],
    ) -> None:
        agent = agents(server, phone.token)
        agent.do(lambda: agent.driver.inject_mobile_sent("+32470000009", "Running late"))
        [row] = eventually(lambda: listed(http, account))  # type: ignore[misc]
        assert row["number"] == "+32470000009"
        assert row["message"] == "Running late"
        assert row["sIdentifiant"] == phone.sid
