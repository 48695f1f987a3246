"""The client on the wire, with ``httpx.MockTransport``: how each call spells its parameters,
how every kind of answer maps to a result or an exception, and that the documented example
bodies of the reference API are read.

These are the cases a live simgate server does not produce on demand (a 429, a proxy's HTML
page, the reference service's own shapes); the live-server tests cover the rest.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from simgate import __version__
from simgate.client import (
    ApiError,
    AuthenticationError,
    Client,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    TransportError,
    UnexpectedResponseError,
)

GUID = "a" * 40
SEND_OK = {"result": {"error": 0, "sent": "1", "id": GUID}}
LIST_OK = {"result": {"error": "", "sms": []}}
OK = {"success": True}
BODIES: dict[str, Mapping[str, Any]] = {
    "/sendsms/": SEND_OK,
    "/getsms/": LIST_OK,
    "/log/sent/sms/": LIST_OK,
    "/gateway/mobile/list/": {"success": True, "items": []},
    "/conversation/sms/list/": {"success": True, "conversations": []},
    "/log/sent/frommobile/": {"success": True, "count": 0, "data": []},
    "/deletesms/": {"success": True, "deleted": 3},
}


class Wire:
    """A fake server: answers each path with a canned body and keeps the requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json=BODIES.get(request.url.path, OK))

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def sent(self) -> tuple[str, str, dict[str, str]]:
        """Method, path and parameters (query or form) of the last request, key left out."""
        request = self.last
        raw = request.url.query if request.method == "GET" else request.content
        params = {
            name: values[0]
            for name, values in parse_qs(raw.decode(), keep_blank_values=True).items()
        }
        assert params.pop("apikey") == "KEY"
        return request.method, request.url.path, params


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def client(wire: Wire) -> Iterator[Client]:
    with Client("http://gateway.test", "KEY", transport=httpx.MockTransport(wire)) as sms:
        yield sms


def answering(
    status: int, body: object = None, *, text: str | None = None, **headers: str
) -> Client:
    """A client of a server that always answers ``status`` with ``body`` (JSON) or ``text``.

    Not closed by the tests: a mock transport holds no connection to release.
    """

    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return Client("http://gateway.test", "KEY", transport=httpx.MockTransport(handler))


class TestSendParameters:
    def test_only_what_is_asked_is_sent(self, client: Client, wire: Wire) -> None:
        client.send("+32470123456", "Hi")
        assert wire.sent() == ("POST", "/sendsms/", {"recipients": "+32470123456", "message": "Hi"})
        assert wire.last.url.query == b""
        assert wire.last.headers["content-type"] == "application/x-www-form-urlencoded"

    @pytest.mark.parametrize(
        ("options", "expected"),
        [
            ({"sim": 1}, {"port": "1"}),
            ({"device": "SID-1"}, {"sIdentifiant": "SID-1"}),
            ({"shorturl": True}, {"shorturl": "1"}),
            ({"encrypt": True}, {"encrypt_message": "yes"}),
            ({"whatsapp": True}, {"sendwa": "1"}),
            ({"whatsapp_only": True}, {"waonly": "yes"}),
            ({"whatsapp": True, "whatsapp_only": True}, {"waonly": "yes"}),
            ({"at": 1_900_000_000}, {"schedule_timestamp": "1900000000"}),
            ({"at": datetime(2030, 1, 1, tzinfo=UTC)}, {"schedule_timestamp": "1893456000"}),
            ({"at": datetime(2030, 1, 1)}, {"schedule_timestamp": "1893456000"}),
            (
                {"at": datetime(2030, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))},
                {"schedule_timestamp": "1893456000"},
            ),
        ],
    )
    def test_each_option_uses_the_documented_spelling(
        self, client: Client, wire: Wire, options: dict[str, Any], expected: dict[str, str]
    ) -> None:
        client.send("+32470123456", "Hi", **options)
        assert wire.sent()[2] == {"recipients": "+32470123456", "message": "Hi", **expected}

    def test_a_list_of_recipients_is_joined_with_commas(self, client: Client, wire: Wire) -> None:
        client.send(["+32470123456", " +32470123457 "], "Hi")
        assert wire.sent()[2]["recipients"] == "+32470123456,+32470123457"

    @pytest.mark.parametrize("at", [True, 1.5, "2030-01-01"])
    def test_a_time_of_another_type_is_refused_before_sending(
        self, client: Client, wire: Wire, at: Any
    ) -> None:
        with pytest.raises(TypeError):
            client.send("+32470123456", "Hi", at=at)
        assert wire.requests == []

    def test_the_user_agent_names_the_client(self, client: Client, wire: Wire) -> None:
        client.inbox()
        assert wire.last.headers["user-agent"] == f"simgate-client/{__version__}"


class TestOtherParameters:
    @pytest.mark.parametrize(
        ("call", "expected"),
        [
            (lambda c: c.inbox(), ("GET", "/getsms/", {})),
            (
                lambda c: c.inbox(device="S1", after=1_800_000_000, only_unread=True),
                (
                    "GET",
                    "/getsms/",
                    {
                        "sIdentifiantPhone": "S1",
                        "after_timestamp_unix": "1800000000",
                        "onlyunread": "yes",
                    },
                ),
            ),
            (lambda c: c.mark_read(GUID), ("GET", "/getsms/set-read/", {"guid_message": GUID})),
            (
                lambda c: c.set_alias(GUID, "Ann"),
                ("POST", "/getsms/update/", {"guid": GUID, "alias": "Ann"}),
            ),
            (
                lambda c: c.set_alias(GUID, None),
                ("POST", "/getsms/update/", {"guid": GUID, "alias": ""}),
            ),
            (
                lambda c: c.sent_log(
                    guid=GUID, errors_api=True, errors_mobile=True, keyword="k", limit=5
                ),
                (
                    "GET",
                    "/log/sent/sms/",
                    {
                        "guid_message": GUID,
                        "error_api": "1",
                        "error_mobile": "1",
                        "keyword": "k",
                        "limit": "5",
                    },
                ),
            ),
            (lambda c: c.sent_log(before=GUID), ("GET", "/log/sent/sms/", {"before": GUID})),
            (
                lambda c: c.sent_log(before=datetime(2030, 1, 1, tzinfo=UTC)),
                ("GET", "/log/sent/sms/", {"before": "1893456000"}),
            ),
            (lambda c: c.resend(GUID), ("POST", "/resend/", {"guid": GUID})),
            (lambda c: c.delete(guid=GUID), ("GET", "/deletesms/", {"guid_message": GUID})),
            (
                lambda c: c.delete(start=date(2030, 1, 2), end=datetime(2030, 1, 3, 12)),
                ("GET", "/deletesms/", {"date_start": "2030-01-02", "date_end": "2030-01-03"}),
            ),
            (
                lambda c: c.devices(sid="S1", search="desk"),
                ("POST", "/gateway/mobile/list/", {"sid": "S1", "search": "desk"}),
            ),
            (
                lambda c: c.update_device("S1", label=""),
                ("POST", "/gateway/mobile/update/", {"sid": "S1", "label": ""}),
            ),
            (
                lambda c: c.update_device("S1", label="Desk", phone_number="+32470123456"),
                (
                    "POST",
                    "/gateway/mobile/update/",
                    {"sid": "S1", "label": "Desk", "phone_number": "+32470123456"},
                ),
            ),
            (lambda c: c.delete_device("S1"), ("POST", "/gateway/mobile/delete/", {"sid": "S1"})),
            (
                lambda c: c.conversations(),
                ("POST", "/conversation/sms/list/", {"origineConversation": "received"}),
            ),
            (
                lambda c: c.conversations(
                    "sent",
                    number="+32470123456",
                    date_from=date(2026, 3, 1),
                    date_to="2026-03-31 23:59:59",
                    sort="ASC",
                    limit=5,
                    latest=3,
                ),
                (
                    "POST",
                    "/conversation/sms/list/",
                    {
                        "origineConversation": "sent",
                        "numero": "+32470123456",
                        "date_from": "2026-03-01",
                        "date_to": "2026-03-31 23:59:59",
                        "sort": "ASC",
                        "limit": "5",
                        "resume": "1",
                        "resume_line_how": "3",
                    },
                ),
            ),
            (
                lambda c: c.sent_from_mobile(
                    day=date(2026, 3, 13),
                    date_from="2026-03-01",
                    date_to=date(2026, 3, 31),
                    period="last_7days",
                    number="32470000000",
                    device="S1",
                    message="hi",
                    search="x",
                    sort_by="synchro_time",
                    sort_order="DESC",
                    limit=200,
                ),
                (
                    "POST",
                    "/log/sent/frommobile/",
                    {
                        "date": "2026-03-13",
                        "date_from": "2026-03-01",
                        "date_to": "2026-03-31",
                        "period": "last_7days",
                        "number": "32470000000",
                        "sIdentifiant": "S1",
                        "message": "hi",
                        "search": "x",
                        "sort_by": "synchro_time",
                        "sort_order": "DESC",
                        "limit": "200",
                    },
                ),
            ),
        ],
    )
    def test_each_call_uses_the_documented_method_and_names(
        self,
        client: Client,
        wire: Wire,
        call: Callable[[Client], object],
        expected: tuple[str, str, dict[str, str]],
    ) -> None:
        call(client)
        assert wire.sent() == expected

    def test_delete_returns_the_count_the_server_gives(self, client: Client) -> None:
        assert client.delete(guid=GUID) == 3


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("status", "kind"),
        [
            (400, InvalidRequestError),
            (403, AuthenticationError),
            (404, NotFoundError),
            (409, ConflictError),
            (413, ApiError),
            (500, ApiError),
        ],
    )
    def test_each_status_raises_its_class(self, status: int, kind: type[ApiError]) -> None:
        body = {"success": False, "error": "some_code", "message": "It went wrong."}
        with pytest.raises(kind) as caught:
            answering(status, body).inbox()
        error = caught.value
        assert type(error) is kind
        assert (error.status, error.code, error.message) == (status, "some_code", "It went wrong.")
        assert error.body == body

    def test_a_429_carries_retry_after(self) -> None:
        body = {"success": False, "error": "rate_limited", "message": "Slow down."}
        with pytest.raises(RateLimitError) as caught:
            answering(429, body, **{"Retry-After": "7"}).send("+32470123456", "Hi")
        assert (caught.value.retry_after, caught.value.code) == (7.0, "rate_limited")

    @pytest.mark.parametrize("header", [None, "Wed, 21 Oct 2015 07:28:00 GMT", "-1"])
    def test_a_429_without_usable_seconds_has_no_retry_after(self, header: str | None) -> None:
        headers = {} if header is None else {"Retry-After": header}
        with pytest.raises(RateLimitError) as caught:
            answering(429, {"error": "rate_limited"}, **headers).inbox()
        assert caught.value.retry_after is None

    def test_a_proxy_error_page_gives_a_generic_api_error(self) -> None:
        with pytest.raises(ApiError) as caught:
            answering(502, text="<html>Bad Gateway</html>").inbox()
        assert (caught.value.status, caught.value.code) == (502, "http_error")
        assert caught.value.message == "The server answered HTTP 502."

    def test_the_reference_apis_sentence_in_error_becomes_the_message(self) -> None:
        body = {"success": False, "error": "Missing required parameter: apikey"}
        with pytest.raises(InvalidRequestError) as caught:
            answering(400, body).inbox()
        assert caught.value.message == "Missing required parameter: apikey"
        assert caught.value.code == "http_error"

    def test_success_false_with_status_200_is_an_error(self) -> None:
        body = {"success": False, "error": "no_credit", "message": "No credit left."}
        with pytest.raises(ApiError) as caught:
            answering(200, body).devices()
        assert (caught.value.status, caught.value.code) == (200, "no_credit")

    @pytest.mark.parametrize(
        ("body", "text"),
        [(None, "<html>welcome</html>"), ([1, 2], None), ({"result": {"sent": "1"}}, None)],
    )
    def test_an_unreadable_success_is_an_unexpected_response(
        self, body: object, text: str | None
    ) -> None:
        with pytest.raises(UnexpectedResponseError) as caught:
            answering(200, body, text=text).send("+32470123456", "Hi")
        assert caught.value.code == "unexpected_response"
        assert "/sendsms/" in caught.value.message

    def test_a_missing_field_is_named(self) -> None:
        with pytest.raises(UnexpectedResponseError, match="'id'"):
            answering(200, {"result": {"sent": "1"}}).send("+32470123456", "Hi")

    def test_an_httpx_failure_becomes_a_transport_error(self) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        sms = Client("http://gateway.test", "KEY", transport=httpx.MockTransport(refuse))
        with pytest.raises(TransportError) as caught:
            sms.inbox()
        assert isinstance(caught.value.__cause__, httpx.ConnectError)
        assert caught.value.message == "No answer from http://gateway.test: refused"


class TestReferenceShapes:
    """Bodies as the reference service documents them, which are looser than simgate's."""

    def test_a_send_answer_without_ids_has_the_one_id(self) -> None:
        body = {
            "result": {
                "error": "0",
                "sent": "1",
                "id": "abc123",
                "note": "",
                "datetime": "2026-03-13T08:45:12Z",
                "send_with_whatsapp": "0",
            }
        }
        result = answering(200, body).send("+32470123456", "Hi")
        assert (result.id, result.guids, result.recipients) == ("abc123", ("abc123",), ())
        assert result.created_at == datetime(2026, 3, 13, 8, 45, 12, tzinfo=UTC)
        assert (result.parts, result.encoding, result.scheduled_at) == (None, None, None)

    def test_a_received_sms_with_only_the_official_fields(self) -> None:
        item = {
            "id": "12",
            "sIdentifiantPhone": "S1",
            "timestamp_unix": "1773391512",
            "message": "Hello",
            "number": "+123456789",
            "guid": "abcde12345",
            "alias": "",
        }
        [sms] = answering(200, {"result": {"error": "", "sms": [item]}}).inbox()
        assert (sms.id, sms.alias, sms.read, sms.date) == (12, None, False, None)
        assert sms.received_at == datetime(2026, 3, 13, 8, 45, 12, tzinfo=UTC)
        assert sms.raw == item

    def test_the_documented_conversation_example(self) -> None:
        body = {
            "success": True,
            "origineConversation": "received",
            "resume": 0,
            "resume_line_how": None,
            "conversations": [
                {
                    "phone_number": "+10470000001",
                    "contact_alias": "John Doe",
                    "messages": [
                        {
                            "direction": "incoming",
                            "message_id": "msg_1001",
                            "date": "2026-03-13 08:45:12",
                            "timestamp_utc": "2026-03-13T08:45:12Z",
                            "message": "Hello, I would like more information.",
                            "status": "received",
                            "mobile_sid": "device_sid_1",
                        },
                        {
                            "direction": "outgoing",
                            "message_id": "msg_1002",
                            "date": "2026-03-13 10:46:03",
                            "timestamp_utc": "2026-03-13T08:46:03Z",
                            "message": "Of course, what would you like to know?",
                            "status": "sent",
                            "mobile_sid": "device_sid_2",
                        },
                    ],
                }
            ],
        }
        [conversation] = answering(200, body).conversations()
        assert (conversation.phone_number, conversation.contact_alias) == (
            "+10470000001",
            "John Doe",
        )
        incoming, outgoing = conversation.messages
        assert (incoming.direction, incoming.message_id) == ("incoming", "msg_1001")
        assert outgoing.at == datetime(2026, 3, 13, 8, 46, 3, tzinfo=UTC)
        assert outgoing.mobile_sid == "device_sid_2"

    def test_the_documented_from_mobile_fields(self) -> None:
        row = {
            "sIdentifiant": "S1",
            "number": "32470000000",
            "message": "On my way",
            "mobile_date_ms": 1773391512000,
            "mobile_date_formatted": "13/03/2026 09:45",
            "synchro_time": "2026-03-13 08:46:00",
        }
        body = {"success": True, "count": 1, "data": [row]}
        [sms] = answering(200, body).sent_from_mobile()
        assert (sms.device_sid, sms.number, sms.mobile_date_formatted) == (
            "S1",
            "32470000000",
            "13/03/2026 09:45",
        )
        assert sms.sent_at == datetime(2026, 3, 13, 8, 45, 12, tzinfo=UTC)

    def test_a_device_known_only_by_sidentifiant(self) -> None:
        body = {"success": True, "items": [{"sIdentifiant": "S1", "online": "1", "battery": 80}]}
        [device] = answering(200, body).devices()
        assert (device.sid, device.online, device.battery, device.label) == ("S1", True, 80, "")
        assert device.sims == ()


class TestResults:
    def test_results_are_frozen_and_hashable(self) -> None:
        result = answering(200, SEND_OK).send("+32470123456", "Hi")
        with pytest.raises(dataclasses.FrozenInstanceError):
            result.id = "other"  # type: ignore[misc]
        assert hash(result) == hash(dataclasses.replace(result))
        body = {"success": True, "items": [{"sid": "S1", "sims": [{"port": 1}]}]}
        [device] = answering(200, body).devices()
        assert hash(device) == hash(dataclasses.replace(device))

    def test_raw_keeps_fields_this_client_does_not_know(self) -> None:
        body = {"result": {**SEND_OK["result"], "future_field": [1]}}
        result = answering(200, body).send("+32470123456", "Hi")
        assert result.raw["future_field"] == [1]
        assert "future_field" not in repr(result)
        assert json.dumps(dict(result.raw))
