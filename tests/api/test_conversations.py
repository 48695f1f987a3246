"""``/conversation/sms/list/``: received and sent SMS merged into one thread per number."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from simgate.domain.channels import Channel
from simgate.services import inbox, messages
from simgate.services.devices import Device
from simgate.services.messages import SendRequest
from tests.contract import validate
from tests.support.api import T0, device_of, receive, refused, report_sent
from tests.support.server import Account, LiveServer, PairedDevice

MINUTE = 60 * 1000
DAY = 24 * 60 * MINUTE
ANN = "+32470000001"
BOB = "+32470000002"
CAT = "+32470000003"


def send(
    server: LiveServer,
    account: Account,
    number: str,
    text: str,
    at_ms: int,
    *,
    channel: Channel = "sms",
) -> str:
    """Submit a message as ``/sendsms/`` does, as if at ``at_ms``; its GUID (still queued)."""
    ctx = dataclasses.replace(server.ctx, clock=lambda: at_ms)
    request = SendRequest(recipients=number, message=text, channel=channel)
    outcome = server.call(messages.send(ctx, account.id, request))
    return outcome.accepted[0].guid


def conversations(http: httpx.Client, account: Account, **params: str) -> dict[str, Any]:
    query = {"apikey": account.api_key, "origineConversation": "received", **params}
    response = http.get("/conversation/sms/list/", params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    validate(body, "simgate.Conversations")
    return body


def numbers(http: httpx.Client, account: Account, **params: str) -> list[str]:
    return [
        item["phone_number"] for item in conversations(http, account, **params)["conversations"]
    ]


def thread(http: httpx.Client, account: Account, **params: str) -> list[str]:
    """The texts of the only conversation listed."""
    [conversation] = conversations(http, account, **params)["conversations"]
    return [message["message"] for message in conversation["messages"]]


def assert_refused(
    http: httpx.Client, account: Account, parameter: str, value: str | None, code: str
) -> None:
    query = {"apikey": account.api_key, "origineConversation": "received"}
    if value is None:
        del query[parameter]
    else:
        query[parameter] = value
    refused(http.get("/conversation/sms/list/", params=query), 400, code, parameter)


class TestShape:
    def test_an_exchange_looks_like_the_documented_example(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        phone: PairedDevice,
        device: Device,
    ) -> None:
        question = receive(server, device, ANN, "Hello, I would like more information.", T0)
        answer = send(server, account, ANN, "Of course, what would you like to know?", T0 + MINUTE)
        report_sent(server, device, answer)
        server.call(inbox.set_alias(server.ctx, account.id, question, "John Doe"))
        body = conversations(http, account)
        assert body == {
            "success": True,
            "origineConversation": "received",
            "resume": 0,
            "resume_line_how": None,
            "conversations": [
                {
                    "phone_number": ANN,
                    "contact_alias": "John Doe",
                    "messages": [
                        {
                            "direction": "incoming",
                            "message_id": question,
                            "date": "2026-03-13 08:45:12",
                            "timestamp_utc": "2026-03-13T08:45:12Z",
                            "message": "Hello, I would like more information.",
                            "status": "received",
                            "mobile_sid": phone.sid,
                        },
                        {
                            "direction": "outgoing",
                            "message_id": answer,
                            "date": "2026-03-13 08:46:12",
                            "timestamp_utc": "2026-03-13T08:46:12Z",
                            "message": "Of course, what would you like to know?",
                            "status": "sent",
                            "mobile_sid": phone.sid,
                        },
                    ],
                }
            ],
        }

    def test_a_reply_not_yet_sent_shows_its_state_and_no_phone(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        receive(server, device, ANN, "Hi", T0)
        send(server, account, ANN, "Queued reply", T0 + MINUTE)
        [_, reply] = conversations(http, account)["conversations"][0]["messages"]
        assert (reply["status"], reply["mobile_sid"]) == ("queued", "")

    def test_messages_of_both_directions_are_one_chronological_timeline(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        send(server, account, ANN, "out 1", T0)
        receive(server, device, ANN, "in 2", T0 + 2 * MINUTE)
        send(server, account, ANN, "out 3", T0 + 3 * MINUTE)
        receive(server, device, ANN, "in 1", T0 - MINUTE)  # reported late by the phone
        assert thread(http, account) == ["in 1", "out 1", "in 2", "out 3"]

    def test_dates_are_in_the_configured_zone_and_timestamps_in_utc(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        server = shared_servers(timezone="Europe/Brussels")
        account = server.create_account()
        paired = server.add_device(account)
        device = device_of(server, paired)
        receive(server, device, ANN, "hi", T0)
        with server.client() as http:
            [message] = conversations(http, account)["conversations"][0]["messages"]
        assert message["date"] == "2026-03-13 09:45:12"
        assert message["timestamp_utc"] == "2026-03-13T08:45:12Z"

    @pytest.mark.parametrize("path", ["/conversation/sms/list", "/conversation/sms/list/"])
    def test_a_post_form_works_on_either_path(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device, path: str
    ) -> None:
        receive(server, device, ANN, "hi", T0)
        response = http.post(
            path, data={"apikey": account.api_key, "origineConversation": "received"}
        )
        assert response.status_code == 200
        assert len(response.json()["conversations"]) == 1


class TestOrigin:
    @pytest.fixture
    def traffic(self, server: LiveServer, account: Account, device: Device) -> None:
        """Ann and Bob texted us (Bob last); we texted Bob and Cat (Cat last)."""
        receive(server, device, ANN, "from Ann", T0)
        receive(server, device, BOB, "from Bob", T0 + MINUTE)
        send(server, account, BOB, "to Bob", T0 + 2 * MINUTE)
        send(server, account, CAT, "to Cat", T0 + 3 * MINUTE)

    @pytest.mark.usefixtures("traffic")
    def test_received_lists_the_numbers_that_texted_us_latest_first(
        self, http: httpx.Client, account: Account
    ) -> None:
        assert numbers(http, account) == [BOB, ANN]
        assert thread(http, account, numero=BOB) == ["from Bob", "to Bob"]

    @pytest.mark.usefixtures("traffic")
    def test_sent_lists_the_numbers_we_texted_latest_first(
        self, http: httpx.Client, account: Account
    ) -> None:
        body = conversations(http, account, origineConversation="sent")
        assert body["origineConversation"] == "sent"
        assert [item["phone_number"] for item in body["conversations"]] == [CAT, BOB]
        assert thread(http, account, origineConversation="sent", numero=BOB) == [
            "from Bob",
            "to Bob",
        ]

    @pytest.mark.usefixtures("traffic")
    @pytest.mark.parametrize("spelling", ["ASC", "asc"])
    def test_sort_asc_lists_the_oldest_conversation_first(
        self, http: httpx.Client, account: Account, spelling: str
    ) -> None:
        assert numbers(http, account, sort=spelling) == [ANN, BOB]
        assert numbers(http, account, sort="DESC") == [BOB, ANN]

    def test_whatsapp_only_messages_are_not_sms_conversations(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        send(server, account, ANN, "by WhatsApp", T0, channel="whatsapp")
        send(server, account, BOB, "SMS and WhatsApp", T0, channel="both")
        assert numbers(http, account, origineConversation="sent") == [BOB]

    def test_a_missing_origin_is_refused(self, http: httpx.Client, account: Account) -> None:
        assert_refused(http, account, "origineConversation", None, "missing_parameter")
        assert_refused(http, account, "origineConversation", "", "missing_parameter")

    @pytest.mark.parametrize("value", ["Received", "SENT", "both", "inbox", "1"])
    def test_an_undocumented_origin_is_refused(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        assert_refused(http, account, "origineConversation", value, "invalid_parameter")

    @pytest.mark.parametrize("value", ["up", "ascending", "0"])
    def test_an_undocumented_sort_is_refused(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        assert_refused(http, account, "sort", value, "invalid_parameter")


class TestNumero:
    @pytest.mark.parametrize("spelling", [ANN, "0470 00 00 01", "32470000001", " 32470000001"])
    def test_only_that_conversation_is_listed_whatever_the_spelling(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        device: Device,
        spelling: str,
    ) -> None:
        receive(server, device, ANN, "from Ann", T0)
        receive(server, device, BOB, "from Bob", T0 + MINUTE)
        assert numbers(http, account, numero=spelling) == [ANN]

    def test_a_sender_name_is_matched_as_shown(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        receive(server, device, "MyBank", "Your code", T0)
        assert numbers(http, account, numero="MyBank") == ["MyBank"]

    def test_a_number_without_sms_on_the_origin_side_has_no_conversation(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        send(server, account, ANN, "to Ann", T0)
        assert numbers(http, account, numero=ANN) == []
        assert numbers(http, account, origineConversation="sent", numero=ANN) == [ANN]

    def test_the_limit_does_not_apply_to_one_number(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        receive(server, device, ANN, "from Ann", T0)
        assert numbers(http, account, numero=ANN, limit="1") == [ANN]


class TestDates:
    @pytest.fixture
    def week(self, server: LiveServer, account: Account, device: Device) -> None:
        """Ann texts on the 12th, 13th and 14th; we answer each time a minute later."""
        for day in (-1, 0, 1):
            receive(server, device, ANN, f"in {13 + day}", T0 + day * DAY)
            send(server, account, ANN, f"out {13 + day}", T0 + day * DAY + MINUTE)
        receive(server, device, BOB, "Bob on the 12th", T0 - DAY)

    @pytest.mark.usefixtures("week")
    def test_days_limit_both_the_conversations_and_their_messages(
        self, http: httpx.Client, account: Account
    ) -> None:
        assert thread(http, account, date_from="2026-03-13", date_to="2026-03-13") == [
            "in 13",
            "out 13",
        ]
        assert thread(http, account, date_from="2026-03-14") == ["in 14", "out 14"]
        assert numbers(http, account, date_to="2026-03-12") == [BOB, ANN]

    @pytest.mark.usefixtures("week")
    def test_a_date_time_limit_is_inclusive_to_the_second(
        self, http: httpx.Client, account: Account
    ) -> None:
        listed = thread(
            http, account, date_from="2026-03-13 08:45:12", date_to="2026-03-13 08:46:12"
        )
        assert listed == ["in 13", "out 13"]
        later = thread(http, account, date_from="2026-03-13T08:45:13", date_to="2026-03-14")
        assert later == ["out 13", "in 14", "out 14"]

    @pytest.mark.parametrize("parameter", ["date_from", "date_to"])
    @pytest.mark.parametrize(
        "value",
        [
            "13/03/2026",
            "2026-03-32",
            "2026-03-13 25:00:00",
            "2026-03-13 08:45",
            "2026-03-13T08:45:12Z",
            "yesterday",
        ],
    )
    def test_a_value_that_is_not_a_date_or_date_time_is_refused(
        self, http: httpx.Client, account: Account, parameter: str, value: str
    ) -> None:
        assert_refused(http, account, parameter, value, "invalid_parameter")

    def test_an_end_before_the_start_is_refused(self, http: httpx.Client, account: Account) -> None:
        response = http.get(
            "/conversation/sms/list/",
            params={
                "apikey": account.api_key,
                "origineConversation": "received",
                "date_from": "2026-03-14",
                "date_to": "2026-03-13 23:59:59",
            },
        )
        assert response.status_code == 400
        assert response.json()["parameter"] == "date_to"


class TestLimit:
    @pytest.fixture
    def many(self, server: LiveServer, device: Device) -> list[str]:
        """25 numbers texted us, one a minute; the newest first."""
        senders = [f"+324700001{index:02d}" for index in range(25)]
        for index, number in enumerate(senders):
            receive(server, device, number, "hi", T0 + index * MINUTE)
        return senders[::-1]

    def test_by_default_the_20_latest_conversations_are_listed(
        self, http: httpx.Client, account: Account, many: list[str]
    ) -> None:
        assert numbers(http, account) == many[:20]

    def test_limit_sets_how_many(
        self, http: httpx.Client, account: Account, many: list[str]
    ) -> None:
        assert numbers(http, account, limit="2") == many[:2]
        assert numbers(http, account, limit="100") == many

    @pytest.mark.parametrize("value", ["0", "101", "-1", "twenty", "2.5"])
    def test_a_limit_outside_1_to_100_is_refused(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        assert_refused(http, account, "limit", value, "invalid_parameter")


class TestResume:
    @pytest.fixture
    def chat(self, server: LiveServer, account: Account, device: Device) -> None:
        for index in range(3):
            receive(server, device, ANN, f"in {index}", T0 + 2 * index * MINUTE)
            send(server, account, ANN, f"out {index}", T0 + (2 * index + 1) * MINUTE)
        receive(server, device, BOB, "only Bob", T0)

    @pytest.mark.usefixtures("chat")
    def test_resume_keeps_the_latest_message_of_each_conversation(
        self, http: httpx.Client, account: Account
    ) -> None:
        body = conversations(http, account, resume="1")
        assert (body["resume"], body["resume_line_how"]) == (1, 1)
        texts = {
            item["phone_number"]: [message["message"] for message in item["messages"]]
            for item in body["conversations"]
        }
        assert texts == {ANN: ["out 2"], BOB: ["only Bob"]}

    @pytest.mark.usefixtures("chat")
    def test_resume_line_how_keeps_that_many_oldest_first(
        self, http: httpx.Client, account: Account
    ) -> None:
        body = conversations(http, account, resume="1", resume_line_how="3", numero=ANN)
        assert body["resume_line_how"] == 3
        assert [m["message"] for m in body["conversations"][0]["messages"]] == [
            "out 1",
            "in 2",
            "out 2",
        ]

    @pytest.mark.usefixtures("chat")
    def test_without_resume_every_message_is_listed_and_resume_line_how_ignored(
        self, http: httpx.Client, account: Account
    ) -> None:
        for params in ({}, {"resume": "0"}, {"resume_line_how": "2"}, {"resume": ""}):
            body = conversations(http, account, numero=ANN, **params)
            assert (body["resume"], body["resume_line_how"]) == (0, None)
            assert len(body["conversations"][0]["messages"]) == 6

    @pytest.mark.parametrize("value", ["2", "yes", "true", "-1"])
    def test_an_undocumented_resume_is_refused(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        assert_refused(http, account, "resume", value, "invalid_parameter")

    @pytest.mark.parametrize("value", ["0", "-3", "three", "1001"])
    def test_a_resume_line_how_outside_1_to_1000_is_refused(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        assert_refused(http, account, "resume_line_how", value, "invalid_parameter")


class TestAlias:
    def test_the_latest_alias_given_to_the_number_is_the_contact_alias(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        first = receive(server, device, ANN, "one", T0)
        second = receive(server, device, ANN, "two", T0 + MINUTE)
        third = receive(server, device, ANN, "three", T0 + 2 * MINUTE)
        server.call(inbox.set_alias(server.ctx, account.id, first, "Ann (old)"))
        server.call(inbox.set_alias(server.ctx, account.id, second, "Ann"))
        assert conversations(http, account)["conversations"][0]["contact_alias"] == "Ann"
        server.call(inbox.set_alias(server.ctx, account.id, third, "Ann B."))
        assert conversations(http, account)["conversations"][0]["contact_alias"] == "Ann B."
        server.call(inbox.set_alias(server.ctx, account.id, third, ""))
        assert conversations(http, account)["conversations"][0]["contact_alias"] == "Ann"

    def test_a_number_never_given_an_alias_has_none(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        send(server, account, ANN, "hi", T0)
        body = conversations(http, account, origineConversation="sent")
        assert body["conversations"][0]["contact_alias"] is None


class TestAccounts:
    def test_another_account_never_sees_these_conversations(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device, ANN, "private question", T0)
        server.call(inbox.set_alias(server.ctx, account.id, guid, "Secret name"))
        send(server, account, ANN, "private answer", T0 + MINUTE)
        intruder = server.create_account()
        intruder_device = device_of(server, server.add_device(intruder))
        # The intruder has its own exchange with the same number: still no leak.
        receive(server, intruder_device, ANN, "intruder's own", T0 + 2 * MINUTE)
        for origin in ("received", "sent"):
            body = conversations(http, intruder, origineConversation=origin, numero=ANN)
            texts = [m["message"] for c in body["conversations"] for m in c["messages"]]
            assert "private question" not in texts
            assert "private answer" not in texts
            assert all(c["contact_alias"] is None for c in body["conversations"])
        assert thread(http, intruder) == ["intruder's own"]
        assert numbers(http, intruder, origineConversation="sent") == []

    def test_a_request_without_a_key_is_refused(self, http: httpx.Client) -> None:
        response = http.get("/conversation/sms/list/", params={"origineConversation": "sent"})
        assert response.status_code == 400
        assert response.json()["error"] == "missing_apikey"


class TestEngines:
    def test_the_same_answer_on_sqlite_and_postgresql(
        self, shared_servers: Callable[..., LiveServer], engine: str
    ) -> None:
        server = shared_servers(engine=engine)
        account = server.create_account()
        paired = server.add_device(account)
        device = device_of(server, paired)
        first = receive(server, device, ANN, "in 0", T0)
        server.call(inbox.set_alias(server.ctx, account.id, first, "Ann"))
        for index in range(1, 3):
            send(server, account, ANN, f"out {index}", T0 + index * MINUTE)
            receive(server, device, BOB, f"Bob {index}", T0 + index * MINUTE + 1)
        send(server, account, CAT, "to Cat", T0 + 5 * MINUTE, channel="both")
        with server.client() as http:
            assert numbers(http, account) == [BOB, ANN]
            assert numbers(http, account, sort="ASC", limit="1") == [ANN]
            assert numbers(http, account, origineConversation="sent") == [CAT, ANN]
            body = conversations(http, account, numero=ANN, resume="1", resume_line_how="2")
            [conversation] = body["conversations"]
            assert conversation["contact_alias"] == "Ann"
            assert [m["message"] for m in conversation["messages"]] == ["out 1", "out 2"]
            assert thread(http, account, numero=BOB, date_from="2026-03-13 08:47:12") == ["Bob 2"]
