"""How the server answers device frames: every frame with an id is acknowledged exactly when
the agent may forget it, valid or not, so nothing is resent forever and nothing is lost."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import eventually
from tests.support.handphone import connected
from tests.support.server import Account, LiveServer, PairedDevice

#: A plausible phone time for report frames (Unix ms).
AT = 1_767_225_600_000

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


@pytest.fixture
def server(shared_servers: Callable[..., LiveServer]) -> LiveServer:
    """One live server for the module's tests; each makes its own account and devices."""
    return shared_servers()


def inbox(http: httpx.Client, account: Account) -> list[dict[str, object]]:
    body = http.get("/getsms/", params={"apikey": account.api_key}).json()
    return body["result"]["sms"]  # type: ignore[no-any-return]


def status(http: httpx.Client, account: Account, guid: str) -> str:
    body = http.get(
        "/log/sent/sms/", params={"apikey": account.api_key, "guid_message": guid}
    ).json()
    return str(body["result"]["sms"][0]["status"])


class TestReceived:
    async def test_an_sms_with_a_hidden_sender_is_stored_and_acked(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        async with connected(server, phone.token) as device:
            await device.send(
                {
                    "type": "received",
                    "id": "r1",
                    "number": "",
                    "text": "hi",
                    "at": 1_790_000_000_000,
                }
            )
            assert await device.next("ack", "error") == {"type": "ack", "id": "r1"}
        [row] = inbox(http, account)
        assert row["number"] == ""
        assert row["message"] == "hi"

    async def test_the_same_frame_twice_is_stored_once_and_acked_twice(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        frame = {"type": "received", "id": "r2", "number": "+32470123456", "text": "once"}
        async with connected(server, phone.token) as device:
            await device.send(frame)
            assert await device.next("ack") == {"type": "ack", "id": "r2"}
        async with connected(server, phone.token) as device:
            await device.send(frame)
            assert await device.next("ack") == {"type": "ack", "id": "r2"}
        assert len(inbox(http, account)) == 1


async def send(server: LiveServer, account: Account) -> str:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get(
            "/sendsms/",
            params={"apikey": account.api_key, "recipients": "+32470123456", "message": "x"},
        )
    return str(response.json()["result"]["id"])


class TestReports:
    async def test_a_report_without_guid_is_refused_but_acked_so_it_is_not_resent_forever(
        self, server: LiveServer, phone: PairedDevice
    ) -> None:
        async with connected(server, phone.token) as device:
            await device.send({"type": "sent", "id": "s1", "at": 1})
            error = await device.next("error")
            assert error["code"] == "invalid_frame"
            assert await device.next("ack") == {"type": "ack", "id": "s1"}

    async def test_a_repeated_sent_report_changes_nothing_and_is_acked(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        async with connected(server, phone.token) as device:
            guid = await send(server, account)
            pushed = await device.next("send")
            assert pushed["guid"] == guid
            for frame_id in ("a", "b"):
                await device.send(
                    {"type": "sent", "id": frame_id, "guid": guid, "sim": 1, "at": AT}
                )
                assert await device.next("ack") == {"type": "ack", "id": frame_id}
            # A late failure report for a message already sent does not undo it.
            await device.send(
                {
                    "type": "failed",
                    "id": "c",
                    "guid": guid,
                    "error": "late",
                    "operator": True,
                    "at": AT,
                }
            )
            assert await device.next("ack") == {"type": "ack", "id": "c"}
        assert status(http, account, guid) == "sent"

    async def test_a_message_held_at_disconnect_is_pushed_again_on_reconnect(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        """The phone accepted it and left: it may be sending it, so it stays the phone's."""
        async with connected(server, phone.token) as device:
            guid = await send(server, account)
            assert (await device.next("send"))["guid"] == guid
            await device.send({"type": "accepted", "guid": guid})
            await device.send({"type": "ping"})
            await device.next("pong")  # the server has read the accepted frame
        assert status(http, account, guid) == "dispatched"
        async with connected(server, phone.token) as device:
            assert (await device.next("send"))["guid"] == guid
            await device.send({"type": "sent", "id": "z", "guid": guid, "at": AT})
            await device.next("ack")
        eventually(lambda: status(http, account, guid) == "sent")


class TestConnection:
    async def test_a_frame_that_is_not_json_gets_an_error_and_the_connection_stays(
        self, server: LiveServer, phone: PairedDevice
    ) -> None:
        async with connected(server, phone.token) as device:
            await device.ws.send("not json")
            assert (await device.next("error"))["code"] == "invalid_json"
            await device.send({"type": "ping"})
            assert await device.next("pong") == {"type": "pong"}
