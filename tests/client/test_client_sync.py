"""The blocking client against a live server: sending, the inbox, the sent log and its errors.

Every answer the server gave in these tests is also validated against the official and
simgate's JSON Schemas when the test ends (see ``conftest.py``).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs

import httpx
import pytest

from simgate.client import (
    ApiError,
    AuthenticationError,
    Client,
    InvalidRequestError,
    NotFoundError,
    SimgateClientError,
    TransportError,
)
from simgate.services import devices
from tests.support.api import device_of
from tests.support.server import Account, LiveServer, PairedDevice

GUID = re.compile(r"\A[0-9a-f]{40}\Z")
ALICE = "+32470123456"
BOB = "+32470123457"


def form_of(request: httpx.Request) -> dict[str, str]:
    return {
        name: values[0]
        for name, values in parse_qs(request.content.decode(), keep_blank_values=True).items()
    }


class TestSend:
    def test_one_recipient_gives_one_guid_that_the_log_shows(self, client: Client) -> None:
        """The result carries the GUID, the normalised number and the segment count."""
        result = client.send("0470 12 34 56", "Hello")
        assert GUID.match(result.id)
        assert result.guids == (result.id,)
        assert result.recipients == (ALICE,)
        assert (result.parts, result.encoding) == (1, "GSM-7")
        assert result.rejected == ()
        assert result.failed == ()
        assert (result.encrypted, result.encryption_key) == (False, None)
        assert result.created_at is not None
        assert abs(result.created_at - datetime.now(UTC)) < timedelta(minutes=1)
        [logged] = client.sent_log(guid=result.id)
        assert (logged.recipient, logged.message) == (ALICE, "Hello")

    def test_a_list_of_recipients_gives_one_guid_each_in_order(self, client: Client) -> None:
        result = client.send([ALICE, BOB], "Hi both")
        assert result.recipients == (ALICE, BOB)
        assert len(set(result.guids)) == 2
        assert result.id == result.guids[0]
        for guid, number in zip(result.guids, result.recipients, strict=True):
            assert client.sent_log(guid=guid)[0].recipient == number

    def test_a_comma_separated_string_is_several_recipients(self, client: Client) -> None:
        assert client.send(f"{ALICE},{BOB}", "Hi").recipients == (ALICE, BOB)

    def test_invalid_recipients_are_listed_and_the_others_still_sent(self, client: Client) -> None:
        result = client.send([ALICE, "not-a-number"], "Hi")
        assert result.recipients == (ALICE,)
        [rejected] = result.rejected
        assert rejected.recipient == "not-a-number"
        assert rejected.error

    def test_the_form_body_uses_the_documented_parameter_names(
        self,
        client: Client,
        device: PairedDevice,
        account: Account,
        sent_requests: Callable[[Client], list[httpx.Request]],
    ) -> None:
        """POST, form body, key in the body (never in the URL), ``port`` and ``sIdentifiant``."""
        client.send([ALICE, BOB], "Hi", sim=2, device=device.sid, at=2_000_000_000)
        [request] = sent_requests(client)
        assert request.method == "POST"
        assert request.url.path == "/sendsms/"
        assert request.url.query == b""
        assert form_of(request) == {
            "apikey": account.api_key,
            "recipients": f"{ALICE},{BOB}",
            "message": "Hi",
            "port": "2",
            "sIdentifiant": device.sid,
            "schedule_timestamp": "2000000000",
        }

    def test_at_with_a_zone_schedules_at_that_instant(self, client: Client) -> None:
        at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
        result = client.send(ALICE, "Later", at=at)
        assert result.scheduled_at == at
        [logged] = client.sent_log(guid=result.id)
        assert logged.schedule_timestamp == int(at.timestamp())

    def test_a_naive_datetime_is_read_as_utc(self, client: Client) -> None:
        result = client.send(ALICE, "Later", at=datetime(2030, 1, 2, 3, 4, 5))
        expected = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert result.scheduled_at == expected
        [logged] = client.sent_log(guid=result.id)
        assert logged.scheduled_at == expected

    def test_at_in_unix_seconds_is_sent_as_is(self, client: Client) -> None:
        result = client.send(ALICE, "Later", at=1_900_000_000)
        assert client.sent_log(guid=result.id)[0].schedule_timestamp == 1_900_000_000

    def test_sim_selects_the_sim_port(self, client: Client) -> None:
        result = client.send(ALICE, "Hi", sim=2)
        assert result.port == 2
        assert client.sent_log(guid=result.id)[0].port == 2

    def test_a_text_outside_gsm7_goes_as_ucs2(self, client: Client) -> None:
        assert client.send(ALICE, "Привет").encoding == "UCS-2"

    def test_a_long_text_is_counted_in_parts(self, client: Client) -> None:
        assert client.send(ALICE, "x" * 200).parts == 2

    def test_encrypt_returns_the_key_the_recipient_needs(self, client: Client) -> None:
        result = client.send(ALICE, "The code is 1234", encrypt=True)
        assert result.encrypted is True
        assert result.encryption_key

    def test_shorturl_is_accepted(
        self, client: Client, sent_requests: Callable[[Client], list[httpx.Request]]
    ) -> None:
        result = client.send(ALICE, "See https://example.com/a/long/path", shorturl=True)
        assert GUID.match(result.id)
        assert form_of(sent_requests(client)[0])["shorturl"] == "1"

    def test_whatsapp_without_a_capable_phone_is_reported_as_failed(self, client: Client) -> None:
        """The message is stored (it has a GUID) but fails at once, and the result says so."""
        result = client.send(ALICE, "Hi", whatsapp=True)
        assert result.whatsapp is True
        [failed] = result.failed
        assert (failed.guid, failed.recipient) == (result.id, ALICE)
        assert "WhatsApp" in failed.error
        [logged] = client.sent_log(guid=result.id)
        assert logged.whatsapp is True
        assert logged.failed

    def test_whatsapp_with_a_capable_phone_is_queued(
        self, server: LiveServer, client: Client, device: PairedDevice
    ) -> None:
        phone = device_of(server, device)
        hello = devices.Hello(
            version="test",
            driver="simulator",
            sims=[1],
            capabilities=["whatsapp"],
            battery=None,
            signal=None,
        )
        server.call(devices.record_hello(server.ctx, phone, hello))
        for options in ({"whatsapp": True}, {"whatsapp_only": True}):
            result = client.send(ALICE, "Hi", **options)  # type: ignore[arg-type]
            assert (result.whatsapp, result.failed) == (True, ())


class TestInbox:
    def test_received_sms_are_listed_newest_first_with_their_fields(
        self, client: Client, device: PairedDevice, receive: Callable[..., str]
    ) -> None:
        first = receive(device, "0470 12 34 56", "first")
        second = receive(device, BOB, "second")
        rows = client.inbox()
        assert [row.guid for row in rows] == [second, first]
        sms = rows[1]
        assert (sms.number, sms.message, sms.device_sid) == (ALICE, "first", device.sid)
        assert (sms.read, sms.alias) == (False, None)
        assert abs(sms.received_at - datetime.now(UTC)) < timedelta(minutes=1)
        assert sms.time_received is not None
        assert isinstance(sms.id, int)

    def test_an_empty_inbox_is_an_empty_list(self, client: Client) -> None:
        assert client.inbox() == []

    def test_only_unread_leaves_out_the_sms_marked_read(
        self, client: Client, device: PairedDevice, receive: Callable[..., str]
    ) -> None:
        read = receive(device, ALICE, "read me")
        unread = receive(device, ALICE, "not yet")
        client.mark_read(read)
        assert [row.guid for row in client.inbox(only_unread=True)] == [unread]
        assert {row.guid: row.read for row in client.inbox()} == {read: True, unread: False}

    def test_device_keeps_the_sms_of_one_phone(
        self,
        server: LiveServer,
        account: Account,
        client: Client,
        device: PairedDevice,
        receive: Callable[..., str],
    ) -> None:
        other = server.add_device(account, "second phone")
        receive(device, ALICE, "to the first phone")
        mine = receive(other, ALICE, "to the second phone")
        assert [row.guid for row in client.inbox(device=other.sid)] == [mine]

    def test_after_keeps_the_sms_received_later(
        self, client: Client, device: PairedDevice, receive: Callable[..., str]
    ) -> None:
        hour_ago = int((time.time() - 3600) * 1000)
        receive(device, ALICE, "old", received_ms=hour_ago)
        recent = receive(device, ALICE, "new")
        half_hour_ago = datetime.now(UTC) - timedelta(minutes=30)
        assert [row.guid for row in client.inbox(after=half_hour_ago)] == [recent]
        assert [row.guid for row in client.inbox(after=int(half_hour_ago.timestamp()))] == [recent]

    def test_another_accounts_sms_are_not_listed(
        self,
        server: LiveServer,
        client_for: Callable[[str], Client],
        device: PairedDevice,
        receive: Callable[..., str],
    ) -> None:
        receive(device, ALICE, "private")
        assert client_for(server.create_account().api_key).inbox() == []


class TestSentLog:
    def test_rows_come_newest_first_with_their_fields(self, client: Client) -> None:
        older = client.send(ALICE, "older").id
        newer = client.send(BOB, "newer").id
        rows = client.sent_log()
        assert [row.guid for row in rows] == [newer, older]
        row = rows[0]
        assert (row.recipient, row.message, row.status) == (BOB, "newer", "queued")
        assert (row.sent_from_mobile, row.failed, row.retries) == (False, False, 0)
        assert (row.parts, row.encoding, row.device_sid) == (1, "GSM-7", None)
        assert row.created_at is not None

    def test_keyword_and_limit_narrow_the_rows(self, client: Client) -> None:
        client.send(ALICE, "apples")
        pears = client.send(ALICE, "pears").id
        client.send(ALICE, "more pears")
        assert [row.message for row in client.sent_log(keyword="pears")] == [
            "more pears",
            "pears",
        ]
        assert len(client.sent_log(limit=2)) == 2
        assert [row.guid for row in client.sent_log(guid=pears)] == [pears]

    def test_before_a_guid_gives_the_older_rows(self, client: Client) -> None:
        first = client.send(ALICE, "1").id
        second = client.send(ALICE, "2").id
        client.send(ALICE, "3")
        assert [row.guid for row in client.sent_log(before=second)] == [first]

    def test_before_a_time_gives_the_rows_created_before_it(self, client: Client) -> None:
        guid = client.send(ALICE, "now").id
        assert [row.guid for row in client.sent_log(before=datetime.now(UTC) + timedelta(1))] == [
            guid
        ]
        assert client.sent_log(before=datetime(2020, 1, 1, tzinfo=UTC)) == []

    def test_errors_mobile_lists_what_the_phone_failed_to_send(
        self,
        client: Client,
        device: PairedDevice,
        fail: Callable[[PairedDevice, str, str], None],
    ) -> None:
        failed = client.send(ALICE, "doomed").id
        client.send(ALICE, "fine")
        fail(device, failed, "No service")
        [row] = client.sent_log(errors_mobile=True)
        assert (row.guid, row.error_mobile, row.status, row.failed) == (
            failed,
            "No service",
            "failed",
            True,
        )
        assert client.sent_log(errors_api=True) == []

    def test_a_filter_that_matches_nothing_is_an_empty_list(self, client: Client) -> None:
        client.send(ALICE, "something")
        assert client.sent_log(keyword="nothing like it") == []

    def test_another_accounts_messages_are_invisible(
        self, server: LiveServer, client: Client, client_for: Callable[[str], Client]
    ) -> None:
        guid = client.send(ALICE, "private").id
        stranger = client_for(server.create_account().api_key)
        assert stranger.sent_log() == []
        assert stranger.sent_log(guid=guid) == []
        with pytest.raises(NotFoundError):
            stranger.sent_log(before=guid)


class TestIterSentLog:
    def test_pages_through_every_row_once_newest_first(
        self, client: Client, sent_requests: Callable[[Client], list[httpx.Request]]
    ) -> None:
        guids = [client.send(ALICE, f"message {number}").id for number in range(5)]
        before = len(sent_requests(client))
        rows = list(client.iter_sent_log(page_size=2))
        assert [row.guid for row in rows] == guids[::-1]
        pages = sent_requests(client)[before:]
        # 2 + 2 + 1: the short third page ends it without a fourth request.
        assert [dict(request.url.params).get("before") for request in pages] == [
            None,
            guids[3],
            guids[1],
        ]

    def test_without_a_page_size_it_stops_at_an_empty_page(
        self, client: Client, sent_requests: Callable[[Client], list[httpx.Request]]
    ) -> None:
        guids = [client.send(ALICE, f"message {number}").id for number in range(3)]
        before = len(sent_requests(client))
        assert [row.guid for row in client.iter_sent_log()] == guids[::-1]
        assert len(sent_requests(client)) - before == 2

    def test_filters_apply_to_every_page(self, client: Client) -> None:
        for number in range(5):
            client.send(ALICE, f"{'odd' if number % 2 else 'even'} {number}")
        rows = client.iter_sent_log(keyword="even", page_size=1)
        assert [row.message for row in rows] == ["even 4", "even 2", "even 0"]

    def test_it_is_lazy(
        self, client: Client, sent_requests: Callable[[Client], list[httpx.Request]]
    ) -> None:
        for number in range(3):
            client.send(ALICE, str(number))
        before = len(sent_requests(client))
        rows: Iterator[object] = client.iter_sent_log(page_size=1)
        next(rows)
        assert len(sent_requests(client)) - before == 1


class TestErrors:
    def test_a_wrong_key_raises_authentication_error_and_sends_nothing(
        self, client_for: Callable[[str], Client], client: Client
    ) -> None:
        with pytest.raises(AuthenticationError) as caught:
            client_for("not-a-key").send(ALICE, "Hi")
        error = caught.value
        assert (error.status, error.code) == (403, "invalid_apikey")
        assert error.message
        assert isinstance(error, ApiError)
        assert isinstance(error, SimgateClientError)
        assert client.sent_log() == []

    def test_a_missing_message_raises_invalid_request_naming_it(self, client: Client) -> None:
        with pytest.raises(InvalidRequestError) as caught:
            client.send(ALICE, "")
        error = caught.value
        assert (error.status, error.code, error.parameter) == (400, "missing_parameter", "message")
        assert "missing_parameter" in str(error)
        assert client.sent_log() == []

    def test_an_empty_key_raises_invalid_request(self, client_for: Callable[[str], Client]) -> None:
        with pytest.raises(InvalidRequestError) as caught:
            client_for("").inbox()
        assert caught.value.code == "missing_apikey"

    def test_no_valid_recipient_raises_invalid_request(self, client: Client) -> None:
        with pytest.raises(InvalidRequestError) as caught:
            client.send(["nope", "neither"], "Hi")
        assert caught.value.parameter == "recipients"

    def test_another_accounts_device_is_not_found(
        self, server: LiveServer, client_for: Callable[[str], Client], device: PairedDevice
    ) -> None:
        stranger = client_for(server.create_account().api_key)
        with pytest.raises(NotFoundError) as caught:
            stranger.send(ALICE, "Hi", device=device.sid)
        assert (caught.value.status, caught.value.code) == (404, "not_found")
        with pytest.raises(NotFoundError):
            stranger.send(ALICE, "Hi", device="no-such-device")


class TestTransport:
    def test_a_refused_connection_raises_transport_error_without_the_key(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        sms = Client(f"http://127.0.0.1:{port}", "secret-key-123")
        with sms, pytest.raises(TransportError) as caught:
            sms.inbox()
        assert isinstance(caught.value.__cause__, httpx.ConnectError)
        assert f"127.0.0.1:{port}" in caught.value.message
        assert "secret-key-123" not in str(caught.value)

    def test_a_silent_server_raises_transport_error_after_the_timeout(self) -> None:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()  # accepts connections, never answers
            url = f"http://127.0.0.1:{listener.getsockname()[1]}"
            started = time.monotonic()
            with Client(url, "key", timeout=0.3) as sms, pytest.raises(TransportError) as caught:
                sms.sent_log()
        assert isinstance(caught.value.__cause__, httpx.TimeoutException)
        assert time.monotonic() - started < 5
