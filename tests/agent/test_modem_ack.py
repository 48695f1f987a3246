"""The modem's SIM storage against a real agent: an SMS leaves the SIM only once the server has
it, arrives at the server once however often the agent restarts, and a delivery report finds its
message after a restart."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simgate.agent import pdu
from simgate.agent.drivers.base import DeliveryReport, Json
from simgate.agent.outbox import STATE_FILE_NAME
from tests.agent.modem_emulator import ModemEmulator, cds_lines
from tests.agent.scripted_server import AgentFactory, ScriptedServer
from tests.agent.test_modem import NUMBER, T0, make_driver, next_report, outgoing, until
from tests.conftest import eventually
from tests.support.api import send_sms, sent_row
from tests.support.devices import RunningAgent
from tests.support.server import Account, LiveServer

pytestmark = [pytest.mark.timeout(60)]

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused


def inbox(http: httpx.Client, account: Account) -> list[dict[str, Any]]:
    body = http.get("/getsms/", params={"apikey": account.api_key}).json()
    return body["result"]["sms"]  # type: ignore[no-any-return]


class Document:
    """A driver's document in memory (the runner gives one in ``state.json``)."""

    def __init__(self, value: Json) -> None:
        self.value = value

    def load(self) -> Json:
        return self.value

    def save(self, value: Json) -> None:
        self.value = value


class TestDriverHooks:
    @pytest.mark.anyio
    async def test_saved_references_match_reports_and_bad_entries_are_skipped(
        self, modem: ModemEmulator
    ) -> None:
        document = Document({"references": [[7, "c" * 40], ["x"], [300, None], [8, None]]})
        driver = make_driver(modem)
        driver.use_state(document)
        await driver.start()
        events = driver.events()
        try:
            await until(lambda: driver.opened == 1)
            report = pdu.encode_status_report(7, NUMBER, at_ms=T0, discharged_ms=T0 + 2000)
            modem.unsolicited(cds_lines(report))
            assert await next_report(events) == DeliveryReport(guid="c" * 40, at_ms=T0 + 2000)
            assert document.value == {"references": [[8, None]]}  # reported: forgotten
            modem.report_delay = None
            assert (await driver.send(outgoing("saved before the outcome"))).ok
            assert document.value == {"references": [[8, None], [1, "a" * 40]]}
        finally:
            await events.aclose()
            await driver.close()

    @pytest.mark.anyio
    async def test_an_unreadable_document_and_a_foreign_ack_change_nothing(
        self, modem: ModemEmulator, caplog: pytest.LogCaptureFixture
    ) -> None:
        driver = make_driver(modem)
        driver.use_state(Document("not a document"))
        await driver.start()
        try:
            await until(lambda: "AT+CMGL=4" in modem.commands)  # the look at start-up is done
            [index] = modem.receive("+15550001", "keep me", at_ms=T0)
            await until(lambda: f"AT+CMGR={index}" in modem.commands)
            driver.acknowledged("inbox:17")
            driver.acknowledged(f"{index}:{'0' * 32}")  # the slot, another PDU
            await asyncio.sleep(0.4)
        finally:
            await driver.close()
        assert modem.deleted == []
        assert "unreadable saved message references" in caplog.text
        assert "not a storage slot" in caplog.text


class TestServerAck:
    """Against the scripted server, which can withhold its acks."""

    @pytest.mark.anyio
    async def test_an_sms_stays_on_the_sim_until_the_server_acknowledges_it(
        self, agents: AgentFactory, modem: ModemEmulator
    ) -> None:
        async with ScriptedServer() as server:
            server.ack = lambda _frame: False
            async with agents.running(server, make_driver(modem)) as runner:
                [index] = modem.receive("+15550005", "Table for two at 8?", at_ms=T0)
                [first] = await server.wait_for("received")
                assert first["text"] == "Table for two at 8?"
                await until(lambda: runner.outbox.pending_count == 1)  # stored by the agent
                await asyncio.sleep(0.6)  # polls meanwhile
                assert index in modem.storage
                assert modem.deleted == []
                server.ack = lambda _frame: True
                await server.drop()  # the agent reconnects and sends it again
                await server.wait_for("received", 2)
                await until(lambda: modem.deleted == [index])
            assert modem.storage == {}
            assert {frame["id"] for frame in server.of_type("received")} == {first["id"]}

    @pytest.mark.anyio
    async def test_a_multipart_sms_leaves_the_sim_once_the_whole_of_it_is_acknowledged(
        self, agents: AgentFactory, modem: ModemEmulator
    ) -> None:
        text = "Your parcel 😀 arrives tomorrow between 9 and 12. " * 4
        async with ScriptedServer() as server:
            server.ack = lambda _frame: False
            async with agents.running(server, make_driver(modem)):
                indexes = modem.receive("+15550006", text, at_ms=T0, reference=42)
                assert len(indexes) > 1
                [frame] = await server.wait_for("received")
                assert frame["text"] == text
                await asyncio.sleep(0.6)
                assert sorted(modem.storage) == sorted(indexes)
                server.ack = lambda _frame: True
                await server.drop()
                await until(lambda: sorted(modem.deleted) == sorted(indexes))
            assert modem.storage == {}
            assert len(server.of_type("received")) == 2  # the one SMS, sent twice, same id
            assert len({f["id"] for f in server.of_type("received")}) == 1


class TestRestarts:
    """Against the real server, which stores an inbound SMS once per frame id."""

    @pytest.fixture
    def account(self, server: LiveServer) -> Account:
        return server.create_account()

    @pytest.fixture
    def start_agent(
        self, server: LiveServer, modem: ModemEmulator, account: Account, tmp_path: Path
    ) -> Iterator[Any]:
        device = server.add_device(account)
        started: list[RunningAgent] = []

        def start(url: str | None = None) -> RunningAgent:
            """A new agent (a new process, as far as it knows) on the same state folder."""
            running = RunningAgent(
                url or server.url, device.token, tmp_path / "agent", driver=make_driver(modem)
            )
            started.append(running.start(wait_connected=url is None))
            return running

        yield start
        for running in started:
            running.stop()
            assert running.error is None

    def test_an_sms_received_while_the_server_is_away_is_stored_once_and_then_deleted(
        self, server: LiveServer, modem: ModemEmulator, account: Account, start_agent: Any
    ) -> None:
        away = start_agent(UNREACHABLE)
        [index] = modem.receive("+15550005", "Table for two at 8?", at_ms=T0)
        eventually(lambda: away.runner.outbox.pending_count == 1)  # in the agent's outbox
        time.sleep(0.6)
        assert index in modem.storage  # the agent has it, the server not: kept on the SIM
        away.stop()
        start_agent()  # restarted, reaching the server this time: reads the SIM again
        with server.client() as http:
            [row] = eventually(lambda: inbox(http, account))  # type: ignore[misc]
            assert (row["number"], row["message"]) == ("+15550005", "Table for two at 8?")
            eventually(lambda: not modem.storage)
            time.sleep(0.5)
            assert len(inbox(http, account)) == 1
        assert modem.deleted == [index]

    def test_an_sms_read_again_after_the_server_has_it_is_not_stored_twice(
        self, server: LiveServer, modem: ModemEmulator, account: Account, start_agent: Any
    ) -> None:
        modem.refuse_deletes = True  # the agent stops between the ack and the delete
        first = start_agent()
        [index] = modem.receive("+15550006", "Is the terrace open?", at_ms=T0)
        with server.client() as http:
            eventually(lambda: inbox(http, account))
            eventually(lambda: f"AT+CMGD={index}" in modem.commands)
            first.stop()
            assert index in modem.storage
            modem.refuse_deletes = False
            start_agent()  # reads the SMS again and sends it under the same frame id
            eventually(lambda: modem.deleted == [index])  # only after the server's ack
            time.sleep(0.3)
            [row] = inbox(http, account)
            assert row["message"] == "Is the terrace open?"

    def test_a_delivery_report_after_a_restart_still_finds_its_message(
        self,
        server: LiveServer,
        modem: ModemEmulator,
        account: Account,
        start_agent: Any,
        tmp_path: Path,
    ) -> None:
        modem.report_delay = None  # the report comes later, by hand
        first = start_agent()
        with server.client() as http:
            guid = send_sms(http, account, message="Your table is ready")
            eventually(lambda: sent_row(http, account, guid)["status"] == "sent")
            first.stop()
            [reference] = modem.references
            saved = json.loads(next((tmp_path / "agent").rglob(STATE_FILE_NAME)).read_text())
            assert saved["drivers"]["modem"]["references"] == [[reference, guid]]
            second = start_agent()
            eventually(lambda: second.driver.opened == 1)
            now = int(time.time()) * 1000
            report = pdu.encode_status_report(reference, NUMBER, at_ms=now, discharged_ms=now)
            modem.unsolicited(cds_lines(report))
            row = eventually(lambda: (r := sent_row(http, account, guid))["delivered"] == "1" and r)
        assert row["delivered_timestamp"]  # type: ignore[index]
