"""The HTTP long-poll fallback (issue 9): the same frames and the same DeviceSession as the
WebSocket, over ``POST /device/report`` and ``GET /device/poll``, against a real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.support.handphone import connected
from tests.support.server import Account, LiveServer, PairedDevice

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

AT = 1_767_225_600_000
HELLO = {"type": "hello", "protocol": 1, "version": "test/1", "driver": "hand", "sims": [1]}


@pytest.fixture
def server(shared_servers: Callable[..., LiveServer]) -> LiveServer:
    """One live server for the module's tests; each makes its own account and devices."""
    return shared_servers()


class PollingPhone:
    """A hand-driven device on the long-poll transport."""

    def __init__(self, client: httpx.AsyncClient, session: str) -> None:
        self.client = client
        self.session = session
        self.cursor: int | None = None
        self.pending: list[dict[str, Any]] = []
        self.closed: dict[str, Any] | None = None

    async def report(self, *frames: dict[str, Any], **extra: Any) -> httpx.Response:
        body = {"session": self.session, "frames": list(frames), **extra}
        return await self.client.post("/device/report", json=body)

    async def poll(self, wait: float = 5) -> httpx.Response:
        params: dict[str, Any] = {"session": self.session, "wait": wait}
        if self.cursor is not None:
            params["cursor"] = self.cursor
        response = await self.client.get("/device/poll", params=params)
        if response.status_code == 200:
            body = response.json()
            self.cursor = body["cursor"]
            self.pending.extend(body["frames"])
            self.closed = body.get("close")
        return response

    async def next(self, *types: str, within: float = 5) -> dict[str, Any]:
        """The next frame of one of ``types``, answering pings, skipping other frames."""
        deadline = time.monotonic() + within
        while True:
            while self.pending:
                frame = self.pending.pop(0)
                if frame["type"] == "ping":
                    await self.report({"type": "pong"})
                if frame["type"] in types:
                    return frame
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {types} frame within {within} s"
            response = await self.poll(wait=min(remaining, 5))
            assert response.status_code == 200, response.text


def client_of(server: LiveServer, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=35
    )


async def open_session(client: httpx.AsyncClient) -> PollingPhone:
    response = await client.post("/device/report", json={"frames": [HELLO]})
    assert response.status_code == 200, response.text
    session = response.json()["session"]
    assert isinstance(session, str)
    assert len(session) == 32  # 128 random bits, in hex
    return PollingPhone(client, session)


@asynccontextmanager
async def polling(server: LiveServer, token: str) -> AsyncIterator[PollingPhone]:
    async with client_of(server, token) as client:
        phone = await open_session(client)
        welcome = await phone.next("welcome")
        assert welcome["sid"]
        yield phone


async def send_sms(server: LiveServer, account: Account) -> str:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get(
            "/sendsms/",
            params={"apikey": account.api_key, "recipients": "+32470123456", "message": "x"},
        )
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["id"])


async def status(server: LiveServer, account: Account, guid: str) -> str:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get(
            "/log/sent/sms/", params={"apikey": account.api_key, "guid_message": guid}
        )
    return str(response.json()["result"]["sms"][0]["status"])


async def inbox(server: LiveServer, account: Account) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get("/getsms/", params={"apikey": account.api_key})
    return response.json()["result"]["sms"]  # type: ignore[no-any-return]


class TestConversation:
    async def test_hello_is_answered_with_welcome_on_the_first_poll(
        self, server: LiveServer, phone: PairedDevice
    ) -> None:
        async with client_of(server, phone.token) as client:
            device = await open_session(client)
            response = await device.poll(wait=5)
            assert response.status_code == 200
            body = response.json()
            assert body["frames"][0]["type"] == "welcome"
            assert body["frames"][0]["sid"] == phone.sid
            assert "close" not in body

    async def test_a_message_reaches_a_waiting_poll_at_once_and_its_sent_report_is_acked(
        self, server: LiveServer, account: Account, phone: PairedDevice
    ) -> None:
        async with polling(server, phone.token) as device:
            waiting = asyncio.create_task(device.poll(wait=20))
            await asyncio.sleep(0.3)  # the poll is parked on the server
            started = time.monotonic()
            guid = await send_sms(server, account)
            response = await asyncio.wait_for(waiting, timeout=5)
            assert time.monotonic() - started < 2  # not at the end of the 20 s wait
            assert response.status_code == 200
            pushed = await device.next("send")
            assert pushed["guid"] == guid
            await device.report({"type": "accepted", "guid": guid})
            await device.report({"type": "sent", "id": "s1", "guid": guid, "sim": 1, "at": AT})
            assert await device.next("ack") == {"type": "ack", "id": "s1"}
        assert await status(server, account, guid) == "sent"

    async def test_a_received_frame_reported_twice_is_stored_once_and_acked_twice(
        self, server: LiveServer, account: Account, phone: PairedDevice
    ) -> None:
        frame = {"type": "received", "id": "r1", "number": "+32470123456", "text": "once"}
        async with polling(server, phone.token) as device:
            await device.report(frame)
            assert await device.next("ack") == {"type": "ack", "id": "r1"}
            await device.report(frame)
            assert await device.next("ack") == {"type": "ack", "id": "r1"}
        [row] = await inbox(server, account)
        assert row["message"] == "once"

    async def test_a_poll_made_again_with_the_same_cursor_gets_the_same_frames(
        self, server: LiveServer, account: Account, phone: PairedDevice
    ) -> None:
        """A poll whose answer was lost on the way loses nothing: the cursor says what the
        device has, and the server forgets only what is below it."""
        async with polling(server, phone.token) as device:
            cursor = device.cursor
            guid = await send_sms(server, account)
            assert (await device.next("send"))["guid"] == guid
            again = await device.client.get(
                "/device/poll", params={"session": device.session, "cursor": cursor, "wait": 0}
            )
            assert [f["guid"] for f in again.json()["frames"] if f["type"] == "send"] == [guid]

    async def test_a_bad_frame_gets_an_error_frame_and_the_session_stays(
        self, server: LiveServer, phone: PairedDevice
    ) -> None:
        async with polling(server, phone.token) as device:
            await device.report({"type": "sent", "id": "bad", "at": AT})
            error = await device.next("error")
            assert error["code"] == "invalid_frame"
            assert await device.next("ack") == {"type": "ack", "id": "bad"}
            await device.report({"type": "ping"})
            assert await device.next("pong") == {"type": "pong"}

    async def test_frames_that_are_not_objects_get_error_frames_and_never_a_500(
        self, server: LiveServer, phone: PairedDevice
    ) -> None:
        async with polling(server, phone.token) as device:
            weird: list[Any] = [None, 1, "hello", [], {"type": 5}, {"type": "x" * 300}]
            for frame in weird:
                response = await device.report(frame)
                assert response.status_code == 200, response.text
            for _ in weird[:-1]:  # an unknown type is ignored, as over a WebSocket
                assert (await device.next("error"))["code"] in ("invalid_frame", "invalid_json")
            await device.report({"type": "ping"})
            assert await device.next("pong") == {"type": "pong"}

    async def test_a_first_frame_that_is_not_hello_closes_the_session_with_4400(
        self, server: LiveServer, phone: PairedDevice
    ) -> None:
        async with client_of(server, phone.token) as client:
            response = await client.post("/device/report", json={"frames": [{"type": "pong"}]})
            device = PollingPhone(client, response.json()["session"])
            assert (await device.next("error"))["code"] == "hello_expected"
            while device.closed is None:
                await device.poll(wait=5)
            assert device.closed["code"] == 4400

    async def test_a_device_that_stops_cleanly_hands_back_what_it_never_accepted(
        self, server: LiveServer, account: Account, phone: PairedDevice
    ) -> None:
        async with polling(server, phone.token) as device:
            guid = await send_sms(server, account)
            assert (await device.next("send"))["guid"] == guid
            response = await device.report(close=1000)
            assert response.status_code == 200
        deadline = time.monotonic() + 5
        while await status(server, account, guid) != "queued":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)


class TestScope:
    async def test_another_devices_session_is_as_unknown_as_a_wrong_id(
        self, server: LiveServer, account: Account, phone: PairedDevice
    ) -> None:
        other = server.add_device(server.create_account(), "other")
        async with polling(server, phone.token) as device, client_of(server, other.token) as c:
            foreign = await c.get("/device/poll", params={"session": device.session, "wait": 0})
            unknown = await c.get("/device/poll", params={"session": "0" * 32, "wait": 0})
            assert foreign.status_code == unknown.status_code == 404
            assert foreign.json() == unknown.json()
            assert foreign.json()["error"] == "unknown_session"
            fed = await c.post(
                "/device/report",
                json={"session": device.session, "frames": [{"type": "ping"}]},
            )
            assert fed.status_code == 404
            assert fed.json() == unknown.json()
            # The owner's session never saw the intruder's ping.
            await device.report({"type": "status", "battery": 50})
            response = await device.poll(wait=0.5)
            assert not [f for f in response.json()["frames"] if f["type"] == "pong"]

    async def test_a_refused_token_is_answered_403_in_the_error_shape(
        self, server: LiveServer
    ) -> None:
        async with client_of(server, "not-a-token") as client:
            report = await client.post("/device/report", json={"frames": [HELLO]})
            poll = await client.get("/device/poll", params={"session": "x"})
        for response in (report, poll):
            assert response.status_code == 403
            assert response.json()["success"] is False
            assert response.json()["error"] == "invalid_device_token"

    @pytest.mark.parametrize(
        ("body", "status", "error"),
        [
            (b"{not json", 400, "invalid_json"),
            (b"[1, 2]", 400, "invalid_report"),
            (b'{"frames": "hello"}', 400, "invalid_report"),
            (b'{"session": 5, "frames": []}', 400, "invalid_report"),
            (b'{"frames": []}', 400, "hello_expected"),
            (b'{"frames": [' + b",".join([b"{}"] * 101) + b"]}", 400, "invalid_report"),
            (b'{"session": "x", "frames": [], "close": "bye"}', 400, "invalid_report"),
            (b'{"frames": [{"type": "hello", "pad": "' + b"x" * (3 << 20) + b'"}]}', 413, ""),
        ],
    )
    async def test_a_malformed_report_is_refused_in_the_error_shape(
        self, server: LiveServer, phone: PairedDevice, body: bytes, status: int, error: str
    ) -> None:
        async with client_of(server, phone.token) as client:
            response = await client.post(
                "/device/report", content=body, headers={"Content-Type": "application/json"}
            )
        assert response.status_code == status, response.text
        assert response.json()["success"] is False
        if error:
            assert response.json()["error"] == error

    async def test_a_bad_wait_is_refused_and_a_long_one_is_bounded(
        self, server: LiveServer, phone: PairedDevice
    ) -> None:
        async with polling(server, phone.token) as device:
            bad = await device.client.get(
                "/device/poll", params={"session": device.session, "wait": "soon"}
            )
            assert bad.status_code == 400
            assert bad.json()["error"] == "invalid_parameter"
            nan = await device.client.get(
                "/device/poll", params={"session": device.session, "wait": "nan"}
            )
            assert nan.status_code == 400


class TestVanishing:
    @pytest.fixture
    def server(self, shared_servers: Callable[..., LiveServer]) -> LiveServer:
        return shared_servers(poll_idle_seconds=1.0)

    async def test_a_device_that_stops_polling_is_closed_and_keeps_its_leases(
        self, server: LiveServer, account: Account, phone: PairedDevice
    ) -> None:
        async with polling(server, phone.token) as device:
            guid = await send_sms(server, account)
            assert (await device.next("send"))["guid"] == guid
            await device.report({"type": "accepted", "guid": guid})
            await asyncio.sleep(2.0)  # no poll for twice the idle time
            response = await device.poll(wait=0)
            assert response.status_code == 404
        # Vanished, not stopped: the message stays with the phone (it may be sending it).
        assert await status(server, account, guid) == "dispatched"
        # The phone comes back (here over the WebSocket) and is handed its message again.
        async with connected(server, phone.token) as again:
            assert (await asyncio.wait_for(again.next("send"), timeout=5))["guid"] == guid

    async def test_a_second_hello_replaces_the_first_session(
        self, server: LiveServer, account: Account, phone: PairedDevice
    ) -> None:
        async with polling(server, phone.token) as old, polling(server, phone.token) as new:
            while old.closed is None:
                response = await old.poll(wait=2)
                assert response.status_code == 200
            assert old.closed["code"] == 4409
            guid = await send_sms(server, account)
            assert (await new.next("send"))["guid"] == guid
