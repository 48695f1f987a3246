"""The asynchronous client against a live server: the same calls, results and errors as the
blocking one, awaited (answers are contract-checked at teardown, see ``conftest.py``)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from simgate.client import (
    AsyncClient,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    TransportError,
)
from tests.support.server import Account, LiveServer, PairedDevice

pytestmark = pytest.mark.anyio

ALICE = "+32470123456"
BOB = "+32470123457"


class TestSend:
    async def test_send_returns_one_guid_per_recipient_and_the_log_shows_them(
        self, account: Account, async_client_for: Callable[[str], AsyncClient]
    ) -> None:
        async with async_client_for(account.api_key) as sms:
            result = await sms.send([ALICE, "nope", BOB], "Hello", sim=1, at=2_000_000_000)
            assert result.recipients == (ALICE, BOB)
            assert [item.recipient for item in result.rejected] == ["nope"]
            rows = await sms.sent_log()
        assert [row.guid for row in rows] == list(result.guids[::-1])
        assert {(row.port, row.schedule_timestamp) for row in rows} == {(1, 2_000_000_000)}


class TestReading:
    async def test_inbox_lists_received_sms_and_marks_them_read(
        self,
        account: Account,
        device: PairedDevice,
        receive: Callable[..., str],
        async_client_for: Callable[[str], AsyncClient],
    ) -> None:
        first = receive(device, ALICE, "one")
        second = receive(device, BOB, "two")
        async with async_client_for(account.api_key) as sms:
            assert [row.guid for row in await sms.inbox()] == [second, first]
            await sms.mark_read(first)
            await sms.set_alias(second, "Bob")
            unread = await sms.inbox(only_unread=True)
        assert [(row.guid, row.alias) for row in unread] == [(second, "Bob")]

    async def test_iter_sent_log_pages_through_every_row(
        self, account: Account, async_client_for: Callable[[str], AsyncClient]
    ) -> None:
        async with async_client_for(account.api_key) as sms:
            guids = [(await sms.send(ALICE, f"message {n}")).id for n in range(5)]
            rows = [row.guid async for row in sms.iter_sent_log(page_size=2)]
        assert rows == guids[::-1]

    async def test_devices_conversations_and_phone_typed_sms(
        self,
        account: Account,
        device: PairedDevice,
        receive: Callable[..., str],
        typed_on_phone: Callable[[PairedDevice, str, str], None],
        async_client_for: Callable[[str], AsyncClient],
    ) -> None:
        receive(device, ALICE, "question")
        typed_on_phone(device, BOB, "typed by hand")
        async with async_client_for(account.api_key) as sms:
            await sms.update_device(device.sid, label="Desk")
            assert [(d.sid, d.label) for d in await sms.devices()] == [(device.sid, "Desk")]
            [conversation] = await sms.conversations()
            [typed] = await sms.sent_from_mobile()
        assert conversation.phone_number == ALICE
        assert typed.message == "typed by hand"


class TestMutations:
    async def test_resend_delete_and_delete_device(
        self,
        account: Account,
        device: PairedDevice,
        fail: Callable[[PairedDevice, str, str], None],
        async_client_for: Callable[[str], AsyncClient],
    ) -> None:
        async with async_client_for(account.api_key) as sms:
            guid = (await sms.send(ALICE, "retry")).id
            with pytest.raises(ConflictError):
                await sms.resend(guid)
            fail(device, guid, "No service")
            await sms.resend(guid)
            assert (await sms.sent_log(guid=guid))[0].status == "queued"
            assert await sms.delete(guid=guid) == 1
            await sms.delete_device(device.sid)
            assert await sms.devices() == []


class TestErrors:
    async def test_refusals_raise_the_same_classes_as_the_blocking_client(
        self,
        server: LiveServer,
        account: Account,
        device: PairedDevice,
        async_client_for: Callable[[str], AsyncClient],
    ) -> None:
        async with async_client_for("wrong") as intruder:
            with pytest.raises(AuthenticationError):
                await intruder.inbox()
        async with async_client_for(account.api_key) as sms:
            with pytest.raises(InvalidRequestError) as caught:
                await sms.send(ALICE, "")
            assert caught.value.parameter == "message"
        async with async_client_for(server.create_account().api_key) as stranger:
            with pytest.raises(NotFoundError):
                await stranger.delete_device(device.sid)

    async def test_a_refused_connection_raises_transport_error(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        async with AsyncClient(f"http://127.0.0.1:{port}", "key") as sms:
            with pytest.raises(TransportError) as caught:
                await sms.sent_log()
        assert isinstance(caught.value.__cause__, httpx.ConnectError)

    async def test_a_bad_base_url_is_refused_at_once(self) -> None:
        with pytest.raises(ValueError, match="http"):
            AsyncClient("127.0.0.1:8000", "key")
