"""Every field a device sends is bounded at the codec: refused frames are answered, acked and
logged, and nothing a device sends can break the account's API afterwards (both engines)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from websockets.asyncio.client import connect

from simgate.protocol import MAX_FRAME_BYTES
from tests.support.handphone import connected
from tests.support.server import Account, LiveServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

AT = 1_767_225_600_000


@pytest.fixture
def live(engine: str, shared_servers: Callable[..., LiveServer]) -> LiveServer:
    return shared_servers(engine=engine)


async def get(server: LiveServer, path: str, account: Account, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url) as client:
        return await client.get(path, params={"apikey": account.api_key, **params})


async def inbox(server: LiveServer, account: Account) -> list[dict[str, object]]:
    response = await get(server, "/getsms/", account)
    assert response.status_code == 200, response.text
    return list(response.json()["result"]["sms"] or [])


class TestReceived:
    async def test_two_long_ids_sharing_a_prefix_are_two_messages(self, live: LiveServer) -> None:
        """Keys used to be cut at 120 characters: the second SMS was acked and lost."""
        account = live.create_account()
        phone = live.add_device(account)
        first, second = "a" * 127 + "1", "a" * 127 + "2"
        async with connected(live, phone.token) as device:
            for frame_id, text in ((first, "one"), (second, "two")):
                await device.send(
                    {
                        "type": "received",
                        "id": frame_id,
                        "number": "+32470123456",
                        "text": text,
                        "at": AT,
                    }
                )
                assert await device.next("ack") == {"type": "ack", "id": frame_id}
            await device.send(
                {"type": "received", "id": first, "number": "+32470123456", "text": "one", "at": AT}
            )
            await device.next("ack")
        assert sorted(str(sms["message"]) for sms in await inbox(live, account)) == ["one", "two"]

    async def test_a_nul_character_is_removed_and_the_sms_kept(self, live: LiveServer) -> None:
        account = live.create_account()
        phone = live.add_device(account)
        async with connected(live, phone.token) as device:
            await device.send(
                {
                    "type": "received",
                    "id": "n",
                    "number": "+32470123456",
                    "text": "a\x00b",
                    "at": AT,
                }
            )
            assert await device.next("ack") == {"type": "ack", "id": "n"}
        assert [sms["message"] for sms in await inbox(live, account)] == ["ab"]

    async def test_a_time_in_microseconds_is_refused_naming_the_field_and_acked(
        self, live: LiveServer
    ) -> None:
        account = live.create_account()
        phone = live.add_device(account)
        async with connected(live, phone.token) as device:
            await device.send(
                {
                    "type": "received",
                    "id": "u",
                    "number": "+32470123456",
                    "text": "t",
                    "at": AT * 1000,
                }
            )
            error = await device.next("error")
            assert error["field"] == "received.at"
            assert await device.next("ack") == {"type": "ack", "id": "u"}
            # The connection goes on: a good frame after it is stored.
            await device.send(
                {"type": "received", "id": "ok", "number": "+32470123456", "text": "fine", "at": AT}
            )
            assert await device.next("ack") == {"type": "ack", "id": "ok"}
        assert [sms["message"] for sms in await inbox(live, account)] == ["fine"]
        response = await get(
            live, "/conversation/sms/list/", account, origineConversation="received"
        )
        assert response.status_code == 200

    async def test_a_frame_over_one_mebibyte_is_refused(self, live: LiveServer) -> None:
        account = live.create_account()
        phone = live.add_device(account)
        async with connected(live, phone.token) as device:
            await device.ws.send(
                '{"type":"received","id":"big","number":"1","text":"' + "x" * MAX_FRAME_BYTES + '"}'
            )
            assert (await device.next("error"))["code"] == "frame_too_large"
            await device.send({"type": "ping"})
            assert await device.next("pong") == {"type": "pong"}
        assert await inbox(live, account) == []


class TestStatus:
    @pytest.mark.parametrize(
        ("field", "value"), [("battery", 2**31), ("signal", 2**31), ("battery", -1)]
    )
    async def test_an_out_of_range_number_is_refused_and_the_session_goes_on(
        self, live: LiveServer, field: str, value: int
    ) -> None:
        account = live.create_account()
        phone = live.add_device(account)
        async with connected(live, phone.token) as device:
            await device.send({"type": "status", field: value})
            assert (await device.next("error"))["field"] == f"status.{field}"
            await device.send({"type": "ping"})
            assert await device.next("pong") == {"type": "pong"}

    async def test_a_hello_with_a_huge_sim_number_is_refused(self, live: LiveServer) -> None:
        account = live.create_account()
        phone = live.add_device(account)
        url = live.url.replace("http://", "ws://") + "/device/ws"
        async with connect(
            url, additional_headers={"Authorization": f"Bearer {phone.token}"}
        ) as ws:
            await ws.send(
                '{"type":"hello","protocol":1,"version":"v","driver":"d","sims":[2147483648]}'
            )
            error = await ws.recv()
            assert '"field":"hello.sims"' in str(error)


class TestReports:
    async def test_a_sent_report_without_its_time_is_refused_and_acked(
        self, live: LiveServer
    ) -> None:
        account = live.create_account()
        phone = live.add_device(account)
        async with connected(live, phone.token) as device:
            await device.send({"type": "sent", "id": "s", "guid": "g" * 40})
            assert (await device.next("error"))["field"] == "sent.at"
            assert await device.next("ack") == {"type": "ack", "id": "s"}
