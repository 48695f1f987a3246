"""One SMS travels the whole path: HTTP client → store → WebSocket device → report → log."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import smsmobileapi

from tests.conftest import eventually
from tests.contract import validate
from tests.support.devices import RunningAgent, outbox_lines
from tests.support.server import LiveServer


def sent_log(http: httpx.Client, api_key: str, guid: str) -> dict[str, object]:
    body = http.get("/log/sent/sms/", params={"apikey": api_key, "guid_message": guid}).json()
    validate(body, "simgate.SentLog")
    return body["result"]["sms"][0]  # type: ignore[no-any-return]


class TestOneMessage:
    def test_http_send_reaches_the_phone_and_the_log_says_sent(
        self, server: LiveServer, agents: Callable[..., RunningAgent], tmp_outbox: Path
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        agents(server, device.token, outbox_file=tmp_outbox)
        with server.client() as http:
            response = http.get(
                "/sendsms/",
                params={
                    "apikey": account.api_key,
                    "recipients": "+32470123456",
                    "message": "Your table is ready",
                    "port": "2",
                },
            )
            guid = response.json()["result"]["id"]
            row = eventually(
                lambda: (r := sent_log(http, account.api_key, guid))["status"] == "sent" and r
            )
        assert row["send_from_mobile"] == "1"  # type: ignore[index]
        assert row["send_from_mobile_erreur"] == ""  # type: ignore[index]
        assert row["send_from_mobile_sIdentifiant"] == device.sid  # type: ignore[index]
        [line] = outbox_lines(tmp_outbox)
        assert line["guid"] == guid
        assert line["to"] == "+32470123456"
        assert line["text"] == "Your table is ready"
        assert line["sim"] == 2

    def test_a_message_sent_while_no_phone_is_online_goes_out_when_one_connects(
        self, server: LiveServer, agents: Callable[..., RunningAgent], tmp_outbox: Path
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        with server.client() as http:
            guid = http.get(
                "/sendsms/",
                params={"apikey": account.api_key, "recipients": "+32470123456", "message": "x"},
            ).json()["result"]["id"]
            assert sent_log(http, account.api_key, guid)["status"] == "queued"
            agents(server, device.token, outbox_file=tmp_outbox)
            eventually(lambda: sent_log(http, account.api_key, guid)["status"] == "sent")
        assert [line["guid"] for line in outbox_lines(tmp_outbox)] == [guid]

    def test_an_sms_received_by_the_phone_appears_in_getsms(
        self, server: LiveServer, agents: Callable[..., RunningAgent]
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        agents(server, device.token, inject_inbound=3)
        with server.client() as http:

            def inbox() -> list[dict[str, object]]:
                body = http.get("/getsms/", params={"apikey": account.api_key}).json()
                validate(body, "official.ReceivedSmsResponse")
                validate(body, "simgate.ReceivedSms")
                return body["result"]["sms"]  # type: ignore[no-any-return]

            rows = eventually(lambda: len(r := inbox()) == 3 and r)
        assert {row["message"] for row in rows} == {  # type: ignore[union-attr]
            f"Simulated inbound message {i}" for i in (1, 2, 3)
        }
        assert {row["sIdentifiantPhone"] for row in rows} == {device.sid}  # type: ignore[union-attr]

    def test_operator_failures_are_retried_then_reported_failed(
        self, server_factory: Callable[..., LiveServer], agents: Callable[..., RunningAgent]
    ) -> None:
        server = server_factory()
        account = server.create_account()
        device = server.add_device(account)
        agents(server, device.token, failure_rate=1.0)
        with server.client() as http:
            guid = http.get(
                "/sendsms/",
                params={"apikey": account.api_key, "recipients": "+32470123456", "message": "x"},
            ).json()["result"]["id"]
            row = eventually(
                lambda: (r := sent_log(http, account.api_key, guid))["retries"] == 1 and r
            )
        # The first retry waits 30 s (backoff), so the message is queued again, not failed yet.
        assert row["status"] == "queued"  # type: ignore[index]
        assert row["send_from_mobile"] == "0"  # type: ignore[index]


class TestScheduled:
    def test_a_scheduled_message_waits_for_its_time_then_goes_out_without_polling(
        self, server: LiveServer, agents: Callable[..., RunningAgent], tmp_outbox: Path
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        agents(server, device.token, outbox_file=tmp_outbox)
        at = int(time.time()) + 2
        with server.client() as http:
            guid = http.get(
                "/sendsms/",
                params={
                    "apikey": account.api_key,
                    "recipients": "+32470123456",
                    "message": "later",
                    "schedule_timestamp": str(at),
                },
            ).json()["result"]["id"]
            assert sent_log(http, account.api_key, guid)["status"] == "scheduled"
            assert outbox_lines(tmp_outbox) == []
            eventually(lambda: sent_log(http, account.api_key, guid)["status"] == "sent")
        [line] = outbox_lines(tmp_outbox)
        handed = datetime.fromisoformat(line["at"].replace("Z", "+00:00")).timestamp()
        assert at <= handed < at + 2


class TestOfficialClient:
    def test_the_official_smsmobileapi_client_sends_through_simgate(
        self, server: LiveServer, agents: Callable[..., RunningAgent], tmp_outbox: Path
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        agents(server, device.token, outbox_file=tmp_outbox, inject_inbound=1)
        sender = smsmobileapi.SMSSender(api_key=account.api_key)
        sender.api_url_send = f"{server.url}/sendsms"
        sender.api_url_received = f"{server.url}/getsms"
        answer = sender.send_message("+32470123456", "Sent with the official client")
        assert answer["result"]["error"] == 0
        assert answer["result"]["sent"] == "1"
        guid = answer["result"]["id"]
        with server.client() as http:
            eventually(lambda: sent_log(http, account.api_key, guid)["status"] == "sent")
        assert outbox_lines(tmp_outbox)[0]["text"] == "Sent with the official client"
        received = eventually(lambda: sender.get_received_messages()["result"]["sms"])
        assert received[0]["message"] == "Simulated inbound message 1"  # type: ignore[index]
