"""A device's connections: a reconnect replaces the old socket and keeps receiving work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from structlog.testing import capture_logs
from websockets.exceptions import ConnectionClosed

from simgate.protocol import CLOSE_REPLACED
from tests.support.handphone import connected
from tests.support.server import Account, LiveServer, PairedDevice

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
def server(shared_servers: Callable[..., LiveServer]) -> LiveServer:
    """One live server for the module's tests; each makes its own account and devices."""
    return shared_servers()


AT = 1_767_225_600_000


async def send_sms(server: LiveServer, account: Account, **extra: str) -> str:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get(
            "/sendsms/",
            params={
                "apikey": account.api_key,
                "recipients": "+32470123456",
                "message": "x",
                **extra,
            },
        )
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["id"])


async def status(server: LiveServer, account: Account, guid: str) -> str:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get(
            "/log/sent/sms/", params={"apikey": account.api_key, "guid_message": guid}
        )
    return str(response.json()["result"]["sms"][0]["status"])


class TestReconnect:
    async def test_a_second_connection_replaces_the_first_and_receives_the_next_message(
        self, server: LiveServer, account: Account, phone: PairedDevice
    ) -> None:
        """The phone reconnects before the server noticed its old socket died: the new one
        wins, the old one is closed with 4409, and the old one's end does not detach the new."""
        async with (
            connected(server, phone.token) as old,
            connected(server, phone.token) as new,
        ):
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(old.next("never"), timeout=5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CLOSE_REPLACED
            await old.ws.close()
            await asyncio.sleep(0.2)  # the old session's clean-up has run
            guid = await send_sms(server, account)
            pushed = await asyncio.wait_for(new.next("send"), timeout=5)
            assert pushed["guid"] == guid
            await new.send({"type": "sent", "id": "s", "guid": guid, "at": AT})
            assert await new.next("ack") == {"type": "ack", "id": "s"}
        assert await status(server, account, guid) == "sent"

    async def test_what_the_old_connection_held_is_handed_to_the_new_one(
        self, server: LiveServer, account: Account, phone: PairedDevice
    ) -> None:
        async with connected(server, phone.token) as old:
            guid = await send_sms(server, account)
            assert (await old.next("send"))["guid"] == guid
            async with connected(server, phone.token) as new:
                assert (await asyncio.wait_for(new.next("send"), timeout=5))["guid"] == guid


class TestHandOver:
    async def test_a_phone_that_leaves_cleanly_hands_back_what_it_never_accepted(
        self, server: LiveServer, account: Account
    ) -> None:
        """The agent stopped: what it never took goes to another phone at once, not after
        the lease; what it accepted stays its own (it reports those on its way out)."""
        leaving = server.add_device(account, "leaving")
        other = server.add_device(account, "other")
        async with connected(server, leaving.token) as device:
            first = await send_sms(server, account)
            assert (await device.next("send"))["guid"] == first
            await device.send({"type": "accepted", "guid": first})
            second = await send_sms(server, account)
            assert (await device.next("send"))["guid"] == second
            await device.send({"type": "ping"})
            await device.next("pong")
        assert await status(server, account, first) == "dispatched"
        async with connected(server, other.token) as device:
            pushed = await asyncio.wait_for(device.next("send"), timeout=5)
            assert pushed["guid"] == second
            assert await status(server, account, second) == "dispatched"


class TestHolder:
    async def test_a_device_cannot_mark_a_message_it_does_not_hold_as_sent(
        self, server: LiveServer, account: Account
    ) -> None:
        """A message pinned to an offline phone stays queued whatever another phone reports."""
        intruder = server.add_device(account, "intruder")
        target = server.add_device(account, "target")
        guid = await send_sms(server, account, sIdentifiant=target.sid)
        async with connected(server, intruder.token) as device:
            await device.send({"type": "sent", "id": "x", "guid": guid, "at": AT})
            assert await device.next("ack") == {"type": "ack", "id": "x"}
            await device.send({"type": "failed", "id": "y", "guid": guid, "error": "no", "at": AT})
            assert await device.next("ack") == {"type": "ack", "id": "y"}
        assert await status(server, account, guid) == "queued"
        async with connected(server, target.token) as device:
            assert (await asyncio.wait_for(device.next("send"), timeout=5))["guid"] == guid
            await device.send({"type": "sent", "id": "z", "guid": guid, "at": AT})
            await device.next("ack")
        assert await status(server, account, guid) == "sent"

    async def test_a_device_of_another_account_cannot_touch_a_message(
        self, server: LiveServer, account: Account, phone: PairedDevice
    ) -> None:
        other = server.create_account()
        stranger = server.add_device(other, "stranger")
        async with connected(server, phone.token) as owner_phone:
            guid = await send_sms(server, account)
            assert (await owner_phone.next("send"))["guid"] == guid
            async with connected(server, stranger.token) as device:
                await device.send({"type": "sent", "id": "x", "guid": guid, "at": AT})
                await device.next("ack")
            assert await status(server, account, guid) == "dispatched"


class TestDropping:
    async def test_a_phone_dropping_off_mid_frame_is_not_logged_as_an_error(
        self, server: LiveServer, account: Account, phone: PairedDevice
    ) -> None:
        """The phone sends a frame and loses its network before the ack: everyday life for a
        phone, so no error and no traceback in the server's log, and the SMS is stored."""
        with capture_logs() as logs:
            async with connected(server, phone.token) as device:
                await device.send(
                    {
                        "type": "received",
                        "id": "r",
                        "number": "+32470123456",
                        "text": "hi",
                        "at": AT,
                    }
                )
                device.ws.transport.abort()
            dispatcher = server.app.state.dispatcher
            deadline = asyncio.get_running_loop().time() + 5
            while dispatcher.connected(account.id):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.02)
        assert [entry for entry in logs if entry["log_level"] in ("error", "critical")] == []
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.get("/getsms/", params={"apikey": account.api_key})
        assert [sms["message"] for sms in response.json()["result"]["sms"]] == ["hi"]
