"""Delivery reports: a phone that sees the operator's report tells the server, and the sent log
shows when the recipient's phone got the message; reports about others' messages change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import eventually
from tests.support.devices import RunningAgent
from tests.support.handphone import connected
from tests.support.server import Account, LiveServer

AT = 1_767_225_600_000


def logged(server: LiveServer, account: Account, guid: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.url}/log/sent/sms/", params={"apikey": account.api_key, "guid_message": guid}
    )
    [row] = response.json()["result"]["sms"]
    return dict(row)


def send(server: LiveServer, account: Account) -> str:
    response = httpx.get(
        f"{server.url}/sendsms/",
        params={"apikey": account.api_key, "recipients": "+32470123456", "message": "x"},
    )
    return str(response.json()["result"]["id"])


class TestWithTheSimulator:
    def test_a_delivered_message_shows_sent_and_when_it_was_delivered(
        self, server: LiveServer, agents: Callable[..., RunningAgent]
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        agents(server, device.token, delivery_reports=True)
        guid = send(server, account)
        row = eventually(lambda: (r := logged(server, account, guid))["delivered"] == "1" and r)
        assert row["status"] == "sent"  # type: ignore[index]
        assert row["delivered_timestamp"] >= row["send_from_mobile_timestamp"]  # type: ignore[index]

    def test_without_reports_nothing_claims_delivery(
        self, server: LiveServer, agents: Callable[..., RunningAgent]
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        agents(server, device.token)
        guid = send(server, account)
        row = eventually(lambda: (r := logged(server, account, guid))["status"] == "sent" and r)
        assert (row["delivered"], row["delivered_timestamp"]) == ("0", None)  # type: ignore[index]


class TestHolder:
    @pytest.mark.anyio
    async def test_only_the_phone_that_had_it_can_report_its_delivery(
        self, server: LiveServer
    ) -> None:
        account = server.create_account()
        holder = server.add_device(account, "holder")
        stranger = server.add_device(account, "stranger")
        async with connected(server, holder.token) as phone:
            guid = await asyncio.to_thread(send, server, account)
            assert (await phone.next("send"))["guid"] == guid
            async with connected(server, stranger.token) as other:
                await other.send({"type": "delivered", "id": "x", "guid": guid, "at": AT})
                assert await other.next("ack") == {"type": "ack", "id": "x"}
            # The report may overtake the phone's own "sent": it is kept all the same.
            await phone.send({"type": "delivered", "id": "d", "guid": guid, "at": AT + 5})
            assert await phone.next("ack") == {"type": "ack", "id": "d"}
            await phone.send({"type": "sent", "id": "s", "guid": guid, "at": AT})
            await phone.next("ack")
            await phone.send({"type": "delivered", "id": "d2", "guid": guid, "at": AT + 99_000})
            await phone.next("ack")
        row = await asyncio.to_thread(logged, server, account, guid)
        assert (row["status"], row["delivered"]) == ("sent", "1")
        assert row["delivered_timestamp"] == (AT + 5) // 1000
