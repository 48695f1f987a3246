"""The client's calls beyond sending and listing, against a live server: read marks, aliases,
resend, deletion, devices, conversations and the SMS typed on the phones themselves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from simgate.client import Client, ConflictError, InvalidRequestError, NotFoundError
from tests.support.server import Account, LiveServer, PairedDevice

ALICE = "+32470123456"
BOB = "+32470123457"


@pytest.fixture
def stranger(server: LiveServer, client_for: Callable[[str], Client]) -> Client:
    """A client of a second account, which must see none of the first account's things."""
    return client_for(server.create_account().api_key)


class TestMarkRead:
    def test_marks_one_received_sms_read(
        self, client: Client, device: PairedDevice, receive: Callable[..., str]
    ) -> None:
        guid = receive(device, ALICE, "hello")
        other = receive(device, ALICE, "hello again")
        client.mark_read(guid)
        assert {row.guid: row.read for row in client.inbox()} == {guid: True, other: False}

    def test_is_sent_as_a_get_with_guid_message(
        self,
        client: Client,
        device: PairedDevice,
        receive: Callable[..., str],
        sent_requests: Callable[[Client], list[httpx.Request]],
    ) -> None:
        guid = receive(device, ALICE, "hello")
        client.mark_read(guid)
        [request] = sent_requests(client)
        assert (request.method, request.url.path) == ("GET", "/getsms/set-read/")
        assert request.url.params["guid_message"] == guid

    def test_another_accounts_sms_is_not_found(
        self, stranger: Client, device: PairedDevice, receive: Callable[..., str], client: Client
    ) -> None:
        guid = receive(device, ALICE, "hello")
        with pytest.raises(NotFoundError):
            stranger.mark_read(guid)
        assert client.inbox()[0].read is False


class TestSetAlias:
    def test_sets_and_clears_the_alias(
        self, client: Client, device: PairedDevice, receive: Callable[..., str]
    ) -> None:
        guid = receive(device, ALICE, "hello")
        client.set_alias(guid, "Alice")
        assert client.inbox()[0].alias == "Alice"
        client.set_alias(guid, None)
        assert client.inbox()[0].alias is None
        client.set_alias(guid, "Alice")
        client.set_alias(guid, "")
        assert client.inbox()[0].alias is None

    def test_another_accounts_sms_is_not_found(
        self, stranger: Client, device: PairedDevice, receive: Callable[..., str]
    ) -> None:
        with pytest.raises(NotFoundError):
            stranger.set_alias(receive(device, ALICE, "hello"), "Mine")


class TestResend:
    def test_queues_a_failed_message_again(
        self,
        client: Client,
        device: PairedDevice,
        fail: Callable[[PairedDevice, str, str], None],
    ) -> None:
        guid = client.send(ALICE, "retry me").id
        fail(device, guid, "No service")
        assert client.sent_log(guid=guid)[0].status == "failed"
        client.resend(guid)
        assert client.sent_log(guid=guid)[0].status == "queued"

    def test_a_message_not_in_error_raises_conflict(self, client: Client) -> None:
        guid = client.send(ALICE, "fine").id
        with pytest.raises(ConflictError) as caught:
            client.resend(guid)
        assert caught.value.status == 409

    def test_another_accounts_message_is_not_found(
        self,
        client: Client,
        stranger: Client,
        device: PairedDevice,
        fail: Callable[[PairedDevice, str, str], None],
    ) -> None:
        guid = client.send(ALICE, "mine").id
        fail(device, guid, "No service")
        with pytest.raises(NotFoundError):
            stranger.resend(guid)
        assert client.sent_log(guid=guid)[0].status == "failed"


class TestDelete:
    def test_deletes_one_message_by_guid(self, client: Client) -> None:
        gone = client.send(ALICE, "delete me").id
        kept = client.send(ALICE, "keep me").id
        assert client.delete(guid=gone) == 1
        assert [row.guid for row in client.sent_log()] == [kept]

    def test_deletes_the_messages_of_a_period(self, client: Client) -> None:
        client.send([ALICE, BOB], "today")
        today = datetime.now(UTC).date()
        assert client.delete(start=today - timedelta(days=400), end=today.isoformat()) == 2
        assert client.sent_log() == []

    def test_a_day_without_messages_deletes_nothing(self, client: Client) -> None:
        client.send(ALICE, "today")
        assert client.delete(start=date(2001, 1, 1)) == 0
        assert len(client.sent_log()) == 1

    def test_refuses_to_delete_without_a_selector_before_asking_the_server(
        self, client: Client, sent_requests: Callable[[Client], list[httpx.Request]]
    ) -> None:
        with pytest.raises(ValueError, match="guid or a start day"):
            client.delete()
        with pytest.raises(ValueError, match="start day"):
            client.delete(end=date(2030, 1, 1))
        assert sent_requests(client) == []

    def test_another_accounts_message_is_not_found(self, client: Client, stranger: Client) -> None:
        guid = client.send(ALICE, "mine").id
        with pytest.raises(NotFoundError):
            stranger.delete(guid=guid)
        assert len(client.sent_log()) == 1


class TestDevices:
    def test_lists_the_paired_devices(
        self, server: LiveServer, account: Account, client: Client, device: PairedDevice
    ) -> None:
        other = server.add_device(account, "modem")
        listed = {item.sid: item for item in client.devices()}
        assert set(listed) == {device.sid, other.sid}
        phone = listed[device.sid]
        assert (phone.label, phone.online, phone.sent_today, phone.received_today) == (
            "office phone",
            False,
            0,
            0,
        )
        assert [item.sid for item in client.devices(sid=other.sid)] == [other.sid]
        assert [item.sid for item in client.devices(search="modem")] == [other.sid]

    def test_update_sets_label_and_phone_number(self, client: Client, device: PairedDevice) -> None:
        client.update_device(device.sid, label="Front desk", phone_number="0470 12 34 56")
        [phone] = client.devices(sid=device.sid)
        assert (phone.label, phone.phone_number) == ("Front desk", ALICE)
        client.update_device(device.sid, label="")
        assert client.devices(sid=device.sid)[0].label == ""

    def test_update_with_a_bad_phone_number_is_invalid(
        self, client: Client, device: PairedDevice
    ) -> None:
        with pytest.raises(InvalidRequestError) as caught:
            client.update_device(device.sid, label="x", phone_number="not a number")
        assert caught.value.parameter == "phone_number"

    def test_delete_removes_the_device(self, client: Client, device: PairedDevice) -> None:
        client.delete_device(device.sid)
        assert client.devices() == []
        with pytest.raises(NotFoundError):
            client.delete_device(device.sid)

    def test_another_accounts_device_is_invisible_and_not_found(
        self, client: Client, stranger: Client, device: PairedDevice
    ) -> None:
        assert stranger.devices() == []
        with pytest.raises(NotFoundError):
            stranger.update_device(device.sid, label="stolen")
        with pytest.raises(NotFoundError):
            stranger.delete_device(device.sid)
        assert client.devices()[0].label == "office phone"


class TestConversations:
    def test_groups_received_and_sent_sms_by_number(
        self, client: Client, device: PairedDevice, receive: Callable[..., str]
    ) -> None:
        question = receive(device, ALICE, "Are you open today?")
        client.set_alias(question, "Alice")
        answer = client.send(ALICE, "Yes, until six.").id
        receive(device, BOB, "Hello")
        [conversation] = client.conversations("received", number=ALICE)
        assert (conversation.phone_number, conversation.contact_alias) == (ALICE, "Alice")
        by_id = {message.message_id: message for message in conversation.messages}
        assert by_id[question].direction == "incoming"
        assert by_id[question].mobile_sid == device.sid
        assert by_id[answer].direction == "outgoing"
        assert by_id[answer].message == "Yes, until six."
        at = by_id[question].at
        assert at is not None
        assert abs(at - datetime.now(UTC)) < timedelta(minutes=1)
        assert {item.phone_number for item in client.conversations()} == {ALICE, BOB}

    def test_latest_keeps_the_last_messages_of_each(
        self, client: Client, device: PairedDevice, receive: Callable[..., str]
    ) -> None:
        for text in ("one", "two", "three"):
            receive(device, ALICE, text)
        [conversation] = client.conversations(latest=1)
        assert [message.message for message in conversation.messages] == ["three"]

    def test_another_accounts_conversations_are_invisible(
        self, stranger: Client, device: PairedDevice, receive: Callable[..., str]
    ) -> None:
        receive(device, ALICE, "private")
        assert stranger.conversations() == []


class TestSentFromMobile:
    def test_lists_what_was_typed_on_the_phone(
        self,
        client: Client,
        device: PairedDevice,
        typed_on_phone: Callable[[PairedDevice, str, str], None],
    ) -> None:
        typed_on_phone(device, "0470 12 34 57", "On my way")
        [sms] = client.sent_from_mobile(period="last_7days", limit=200)
        assert (sms.device_sid, sms.number, sms.message) == (device.sid, BOB, "On my way")
        assert abs(sms.sent_at - datetime.now(UTC)) < timedelta(minutes=1)
        assert sms.mobile_date_formatted
        assert sms.synchro_time
        assert client.sent_from_mobile(number="+32499999999") == []
        assert len(client.sent_from_mobile(device=device.sid, search="way")) == 1

    def test_an_unknown_period_is_invalid(self, client: Client) -> None:
        with pytest.raises(InvalidRequestError) as caught:
            client.sent_from_mobile(period="last_year")  # type: ignore[arg-type]
        assert caught.value.parameter == "period"

    def test_another_accounts_sms_are_invisible(
        self,
        stranger: Client,
        device: PairedDevice,
        typed_on_phone: Callable[[PairedDevice, str, str], None],
    ) -> None:
        typed_on_phone(device, BOB, "private")
        assert stranger.sent_from_mobile() == []
