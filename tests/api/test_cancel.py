"""``/cancel/``: a message no phone has taken yet ends cancelled; anything else is refused.

Also through the Python client (``Client.cancel``, ``AsyncClient.cancel``) and the command
``simgate cancel GUID``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx
import pytest
from typer.testing import CliRunner, Result

from simgate import bus
from simgate.cli import app
from simgate.client import AsyncClient, Client, ConflictError, NotFoundError
from simgate.clock import now_ms
from tests.support.api import NUMBER, device_of, mutation, refused, report_sent, send_sms, sent_row
from tests.support.handphone import connected
from tests.support.server import Account, LiveServer


def cancel(http: httpx.Client, account: Account, guid: str) -> httpx.Response:
    return http.get("/cancel/", params={"apikey": account.api_key, "guid": guid})


def wake_scheduler(server: LiveServer) -> None:
    """The scheduler looks at the store now (published on the server's own loop)."""

    async def publish() -> None:
        server.ctx.bus.publish(bus.SCHEDULE, "0")
        await asyncio.sleep(0.2)  # the tick runs meanwhile

    server.call(publish())


async def send_async(http: httpx.AsyncClient, account: Account, message: str) -> str:
    params = {"apikey": account.api_key, "recipients": NUMBER, "message": message}
    response = await http.get("/sendsms/", params=params)
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["id"])


class TestCancelWaiting:
    @pytest.mark.parametrize(
        "route", [("GET", "/cancel/"), ("POST", "/cancel/"), ("GET", "/cancel")]
    )
    def test_a_queued_message_with_no_phone_connected_ends_cancelled(
        self, http: httpx.Client, account: Account, route: tuple[str, str]
    ) -> None:
        guid = send_sms(http, account, message="never mind")
        method, path = route
        response = http.request(method, path, params={"apikey": account.api_key, "guid": guid})
        body = mutation(response)
        assert (body["guid"], body["status"]) == (guid, "cancelled")
        logged = sent_row(http, account, guid)
        assert logged["status"] == "cancelled"
        assert (logged["error_api"], logged["send_from_mobile"]) == ("", "0")

    def test_a_json_body_without_trailing_slash_and_an_upper_case_guid_are_read(
        self, http: httpx.Client, account: Account
    ) -> None:
        guid = send_sms(http, account)
        payload = {"apikey": account.api_key, "guid": guid.upper()}
        assert mutation(http.post("/cancel", json=payload))["status"] == "cancelled"
        assert sent_row(http, account, guid)["status"] == "cancelled"

    def test_a_form_body_is_read(self, http: httpx.Client, account: Account) -> None:
        guid = send_sms(http, account)
        mutation(http.post("/cancel/", data={"apikey": account.api_key, "guid": guid}))
        assert sent_row(http, account, guid)["status"] == "cancelled"

    def test_a_scheduled_message_ends_cancelled_and_is_not_queued_at_its_time(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        guid = send_sms(http, account, schedule_timestamp=str(int(time.time()) + 3600))
        assert sent_row(http, account, guid)["status"] == "scheduled"
        assert mutation(cancel(http, account, guid))["status"] == "cancelled"
        server.ctx.clock = lambda: now_ms() + 7_200_000  # two hours later
        wake_scheduler(server)
        assert sent_row(http, account, guid)["status"] == "cancelled"

    @pytest.mark.anyio
    async def test_a_phone_that_connects_later_gets_only_the_messages_not_cancelled(
        self, server: LiveServer, account: Account
    ) -> None:
        phone = server.add_device(account)
        async with httpx.AsyncClient(base_url=server.url) as http:
            dropped = await send_async(http, account, "dropped")
            params = {"apikey": account.api_key, "guid": dropped}
            assert (await http.post("/cancel/", data=params)).json()["status"] == "cancelled"
            kept = await send_async(http, account, "kept")
            async with connected(server, phone.token) as device:
                frame = await asyncio.wait_for(device.next("send"), timeout=10)
                assert frame["guid"] == kept
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(device.next("send"), timeout=0.5)


class TestCancelRefused:
    @pytest.mark.anyio
    async def test_a_message_a_phone_holds_is_a_409_and_stays_dispatched(
        self, server: LiveServer, account: Account
    ) -> None:
        phone = server.add_device(account)
        async with (
            httpx.AsyncClient(base_url=server.url) as http,
            connected(server, phone.token) as device,
        ):
            guid = await send_async(http, account, "on its way")
            frame = await asyncio.wait_for(device.next("send"), timeout=10)
            assert frame["guid"] == guid
            params = {"apikey": account.api_key, "guid": guid}
            answer = await http.get("/cancel/", params=params)
            body = refused(answer, 409, "state_conflict")
            assert body["status"] == "dispatched"
            log = await http.get("/log/sent/sms/", params={**params, "guid_message": guid})
            assert log.json()["result"]["sms"][0]["status"] == "dispatched"

    def test_a_sent_message_is_a_409_and_stays_sent(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        phone = server.add_device(account)
        guid = send_sms(http, account)
        report_sent(server, device_of(server, phone), guid)
        body = refused(cancel(http, account, guid), 409, "state_conflict")
        assert body["status"] == "sent"
        assert sent_row(http, account, guid)["status"] == "sent"

    def test_cancelling_twice_is_a_409_that_says_cancelled(
        self, http: httpx.Client, account: Account
    ) -> None:
        guid = send_sms(http, account)
        mutation(cancel(http, account, guid))
        assert refused(cancel(http, account, guid), 409, "state_conflict")["status"] == "cancelled"

    def test_a_failed_message_is_a_409_and_can_still_be_resent(
        self, http: httpx.Client, account: Account
    ) -> None:
        guid = send_sms(http, account, waonly="yes")  # no WhatsApp phone: failed at once
        assert refused(cancel(http, account, guid), 409, "state_conflict")["status"] == "failed"
        assert sent_row(http, account, guid)["status"] == "failed"

    def test_another_accounts_message_is_the_same_404_as_an_unknown_one_and_stays_queued(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        guid = send_sms(http, account)
        stranger = server.create_account()
        foreign = refused(cancel(http, stranger, guid), 404, "not_found")
        unknown = refused(cancel(http, stranger, "c" * 40), 404, "not_found")
        assert foreign.keys() == unknown.keys()
        assert foreign["message"].replace(guid, "c" * 40) == unknown["message"]
        assert sent_row(http, account, guid)["status"] == "queued"

    @pytest.mark.parametrize("value", [None, "", "  "])
    def test_a_missing_guid_is_a_400(
        self, http: httpx.Client, account: Account, value: str | None
    ) -> None:
        params = {"apikey": account.api_key}
        if value is not None:
            params["guid"] = value
        refused(http.get("/cancel/", params=params), 400, "missing_parameter", "guid")

    @pytest.mark.parametrize("value", ["123", "g" * 40, "a" * 41])
    def test_a_value_that_cannot_be_a_guid_is_a_400(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        params = {"apikey": account.api_key, "guid": value}
        refused(http.get("/cancel/", params=params), 400, "invalid_parameter", "guid")

    def test_without_a_valid_api_key_nothing_is_cancelled(
        self, http: httpx.Client, account: Account
    ) -> None:
        guid = send_sms(http, account)
        refused(http.get("/cancel/", params={"guid": guid}), 400, "missing_apikey")
        refused(
            http.get("/cancel/", params={"guid": guid, "apikey": "z" * 40}), 403, "invalid_apikey"
        )
        assert sent_row(http, account, guid)["status"] == "queued"


class TestClient:
    def test_client_cancel_then_a_conflict_and_a_not_found(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        guid = send_sms(http, account)
        with Client(server.url, account.api_key) as client:
            assert client.cancel(guid) is None
            with pytest.raises(ConflictError) as conflict:
                client.cancel(guid)
            assert conflict.value.body["status"] == "cancelled"
            with pytest.raises(NotFoundError):
                client.cancel("d" * 40)
        assert sent_row(http, account, guid)["status"] == "cancelled"

    @pytest.mark.anyio
    async def test_async_client_cancel(self, server: LiveServer, account: Account) -> None:
        async with httpx.AsyncClient(base_url=server.url) as http:
            guid = await send_async(http, account, "x")
        async with AsyncClient(server.url, account.api_key) as client:
            await client.cancel(guid)
            with pytest.raises(ConflictError):
                await client.cancel(guid)
            [row] = await client.sent_log(guid=guid)
        assert row.status == "cancelled"


class TestCommand:
    @pytest.fixture
    def run(self, server: LiveServer, account: Account) -> Callable[..., Result]:
        def invoke(*args: str) -> Result:
            env = {"SIMGATE_SERVER": server.url, "SIMGATE_API_KEY": account.api_key}
            return CliRunner().invoke(app, list(args), env=env)

        return invoke

    def test_simgate_cancel_guid(
        self, run: Callable[..., Result], http: httpx.Client, account: Account
    ) -> None:
        guid = send_sms(http, account)
        done = run("cancel", guid)
        assert done.exit_code == 0, done.output
        assert guid in done.stdout
        assert sent_row(http, account, guid)["status"] == "cancelled"
        again = run("cancel", guid)
        assert again.exit_code == 1
        assert again.stderr.startswith("error: ")
        assert "state_conflict" in again.stderr

    def test_simgate_cancel_json(
        self, run: Callable[..., Result], http: httpx.Client, account: Account
    ) -> None:
        guid = send_sms(http, account)
        done = run("cancel", "--json", guid)
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout) == {"guid": guid, "status": "cancelled"}


class TestOnEachEngine:
    def test_only_a_waiting_message_is_cancelled(
        self, shared_servers: Callable[..., LiveServer], engine: str
    ) -> None:
        server = shared_servers(engine=engine)
        account = server.create_account()
        phone = server.add_device(account)
        with server.client() as http:
            waiting = send_sms(http, account)
            done = send_sms(http, account)
            report_sent(server, device_of(server, phone), done)
            assert mutation(cancel(http, account, waiting))["status"] == "cancelled"
            assert refused(cancel(http, account, done), 409, "state_conflict")["status"] == "sent"
            assert sent_row(http, account, waiting)["status"] == "cancelled"
