"""Opt-out: a number that texts STOP is not texted again (unless forced) until it texts START.

Keywords arrive as ``received`` frames from a hand-driven phone over a real WebSocket; sends go
through ``/sendsms/`` over real HTTP; the list is also managed with ``simgate optout``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from typer.testing import CliRunner

from simgate.cli import app
from tests.support.api import (
    NUMBER,
    accepted,
    device_of,
    receive,
    refused,
    report_failed,
    sent_log,
    sent_row,
)
from tests.support.handphone import Phone, connected
from tests.support.server import Account, LiveServer, PairedDevice

OTHER = "+32470654321"
#: A plausible phone time for received SMS (Unix ms).
AT = 1_767_225_600_000


def send(http: httpx.Client, account: Account, recipients: str, **params: str) -> dict[str, Any]:
    """``/sendsms/`` to ``recipients``: the ``result`` of the accepted request."""
    query = {"apikey": account.api_key, "recipients": recipients, "message": "offer", **params}
    return accepted(http.get("/sendsms/", params=query))


def inbox(http: httpx.Client, account: Account) -> list[dict[str, Any]]:
    body = http.get("/getsms/", params={"apikey": account.api_key}).json()
    return body["result"]["sms"]  # type: ignore[no-any-return]


async def text_from(phone: Phone, frame_id: str, number: str, text: str) -> None:
    """The phone reports an SMS it received, and the server acknowledges it."""
    await phone.send({"type": "received", "id": frame_id, "number": number, "text": text, "at": AT})
    assert await phone.next("ack") == {"type": "ack", "id": frame_id}


async def no_send_frame(phone: Phone, wait: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(phone.next("send"), timeout=wait)


@pytest.mark.anyio
@pytest.mark.timeout(60)
class TestStopKeyword:
    async def test_after_stop_a_send_to_that_number_fails_at_once_and_reaches_no_phone(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        async with connected(server, phone.token) as device:
            # National spelling and a full stop: the inbox stores +32470123456 all the same.
            await text_from(device, "r1", "0470 12 34 56", "Stop.")
            result = send(http, account, f"{NUMBER},{OTHER}")
            stopped, kept = result["ids"]
            assert result["failed"] == [{"id": stopped, "recipient": NUMBER, "error": "opted_out"}]
            frame = await asyncio.wait_for(device.next("send"), timeout=10)
            assert (frame["guid"], frame["to"]) == (kept, OTHER)
            await no_send_frame(device)
        logged = sent_row(http, account, stopped)
        assert (logged["status"], logged["error_api"]) == ("failed", "opted_out")
        assert [row["guid"] for row in sent_log(http, account, error_api="1")] == [stopped]
        # The STOP itself is an ordinary received SMS too.
        assert [(sms["number"], sms["message"]) for sms in inbox(http, account)] == [
            (NUMBER, "Stop.")
        ]

    async def test_force_optout_sends_to_an_opted_out_number(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        async with connected(server, phone.token) as device:
            await text_from(device, "r1", NUMBER, "STOP")
            result = send(http, account, NUMBER, force_optout="1", message="your code is 1234")
            assert "failed" not in result
            frame = await asyncio.wait_for(device.next("send"), timeout=10)
            assert (frame["guid"], frame["to"]) == (result["id"], NUMBER)
        assert sent_row(http, account, result["id"])["error_api"] == ""

    async def test_start_lets_the_number_be_texted_again(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        async with connected(server, phone.token) as device:
            await text_from(device, "r1", NUMBER, "unsubscribe")
            assert send(http, account, NUMBER)["failed"][0]["error"] == "opted_out"
            await text_from(device, "r2", NUMBER, "Start!")
            result = send(http, account, NUMBER)
            assert "failed" not in result
            frame = await asyncio.wait_for(device.next("send"), timeout=10)
            assert frame["guid"] == result["id"]

    async def test_a_resent_stop_frame_changes_nothing(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        """A phone that reconnects resends frames it had no ack for: an old STOP arriving again
        after a START must not opt the number out a second time."""
        stop = {"type": "received", "id": "r1", "number": NUMBER, "text": "STOP", "at": AT}
        async with connected(server, phone.token) as device:
            await device.send(stop)
            await device.next("ack")
            await text_from(device, "r2", NUMBER, "START")
        async with connected(server, phone.token) as device:
            await device.send(stop)
            assert await device.next("ack") == {"type": "ack", "id": "r1"}
        assert "failed" not in send(http, account, NUMBER)

    @pytest.mark.parametrize(
        "text", ["Stop by tomorrow, the shop closes at 5", "please stop", "STOPPED", "Arrêter"]
    )
    async def test_a_text_that_only_contains_a_keyword_opts_nobody_out(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        phone: PairedDevice,
        text: str,
    ) -> None:
        async with connected(server, phone.token) as device:
            await text_from(device, "r1", NUMBER, text)
        assert "failed" not in send(http, account, NUMBER)


class TestScope:
    def test_another_account_may_still_text_the_number(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        receive(server, device_of(server, phone), NUMBER, "STOP")
        assert send(http, account, NUMBER)["failed"][0]["error"] == "opted_out"
        other = server.create_account()
        assert "failed" not in send(http, other, NUMBER)

    def test_a_sender_that_is_no_phone_number_opts_out_by_its_name(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        receive(server, device_of(server, phone), "MyBank", "stop")
        assert "MyBank" in optout(server, "list", "--account", account.email)

    def test_all_recipients_opted_out_is_still_an_accepted_request(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        """Like a WhatsApp message nobody can carry: accepted, every message failed at once."""
        device = device_of(server, phone)
        receive(server, device, NUMBER, "STOP")
        receive(server, device, OTHER, "QUIT")
        result = send(http, account, f"{NUMBER};{OTHER}")
        assert [item["error"] for item in result["failed"]] == ["opted_out", "opted_out"]
        assert result["note"].startswith("2 message(s) accepted but failed at once")

    def test_a_message_failed_by_the_phone_is_not_resent_to_a_number_that_opted_out_since(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        device = device_of(server, phone)
        guid = send(http, account, NUMBER)["id"]
        report_failed(server, device, guid, "no credit")
        receive(server, device, NUMBER, "STOP")
        body = refused(
            http.get("/resend/", params={"apikey": account.api_key, "guid": guid}),
            409,
            "state_conflict",
        )
        assert "force_optout=1" in body["message"]
        assert sent_row(http, account, guid)["status"] == "failed"


class TestForceOptoutParameter:
    @pytest.mark.parametrize("value", ["yes", "2", "true"])
    def test_only_0_or_1_is_accepted(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        response = http.get(
            "/sendsms/",
            params={
                "apikey": account.api_key,
                "recipients": NUMBER,
                "message": "x",
                "force_optout": value,
            },
        )
        assert response.status_code == 400
        assert (response.json()["error"], response.json()["parameter"]) == (
            "invalid_parameter",
            "force_optout",
        )


def optout(server: LiveServer, *args: str) -> str:
    """Run ``simgate optout ARGS`` on the server's database; its output (exit status 0)."""
    env = {
        "SIMGATE_DATABASE_URL": server.settings.database_url,
        "SIMGATE_DEFAULT_REGION": "BE",
        "SIMGATE_LOG_LEVEL": "warning",
    }
    done = CliRunner().invoke(app, ["optout", *args], env=env)
    assert done.exit_code == 0, done.output
    return done.output


class TestCommand:
    def test_add_list_and_remove(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        added = json.loads(
            optout(server, "add", "0470 12 34 56", "--account", account.email, "--json")
        )
        assert added == {"number": NUMBER, "added": True}
        assert send(http, account, NUMBER)["failed"][0]["error"] == "opted_out"
        again = json.loads(optout(server, "add", NUMBER, "--account", account.email, "--json"))
        assert again == {"number": NUMBER, "added": False}

        listed = json.loads(optout(server, "list", "--account", account.email, "--json"))
        [entry] = listed["opt_outs"]
        assert (entry["number"], entry["source"]) == (NUMBER, "cli")

        removed = optout(server, "remove", NUMBER, "--account", account.email)
        assert removed.strip() == f"{NUMBER} removed"
        assert "failed" not in send(http, account, NUMBER)
        assert optout(server, "list", "--account", account.email).strip() == "No number opted out."

    def test_the_list_shows_keyword_opt_outs_of_this_account_only(
        self, server: LiveServer, account: Account, phone: PairedDevice
    ) -> None:
        receive(server, device_of(server, phone), NUMBER, "STOP")
        other = server.create_account()
        listed = json.loads(optout(server, "list", "--account", account.email, "--json"))
        assert [(row["number"], row["source"]) for row in listed["opt_outs"]] == [
            (NUMBER, "keyword")
        ]
        assert json.loads(optout(server, "list", "--account", other.email, "--json")) == {
            "opt_outs": []
        }

    def test_an_unknown_account_is_an_error(self, server: LiveServer) -> None:
        env = {"SIMGATE_DATABASE_URL": server.settings.database_url}
        done = CliRunner().invoke(
            app, ["optout", "list", "--account", "nobody@example.test"], env=env
        )
        assert done.exit_code == 1
        assert "No account with e-mail nobody@example.test" in done.output


class TestBothEngines:
    @pytest.mark.parametrize("size", [1000])
    def test_one_request_to_many_numbers_fails_exactly_the_opted_out_ones(
        self,
        shared_servers: Callable[..., LiveServer],
        engine: str,
        size: int,
    ) -> None:
        live = shared_servers(engine=engine)
        account = live.create_account()
        device = device_of(live, live.add_device(account))
        numbers = [f"+3247{index:07d}" for index in range(size)]
        stopped = set(numbers[::97])
        for number in stopped:
            receive(live, device, number, "STOP")
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statements.append(str(args[2]))  # (conn, cursor, statement, ...)

        engine_events = live.ctx.db.engine.sync_engine
        event.listen(engine_events, "before_cursor_execute", seen)
        try:
            with live.client() as http:
                result = send(http, account, ",".join(numbers))
        finally:
            event.remove(engine_events, "before_cursor_execute", seen)
        assert {item["recipient"] for item in result["failed"]} == stopped
        assert len(result["ids"]) == size
        # One query reads the list for the thousand recipients.
        assert sum("opt_outs" in statement for statement in statements) == 1
