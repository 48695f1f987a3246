"""The modem driver against an emulated modem on a pseudo-terminal: the AT dialogue on its own,
then through a real agent and a real server."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from simgate.agent import pdu
from simgate.agent.drivers.base import DeliveryReport, InboundSms, OutgoingSms, StatusUpdate
from simgate.agent.drivers.modem import ModemDriver, signal_bars
from tests.agent.modem_emulator import ModemEmulator, cds_lines
from tests.conftest import eventually
from tests.support.api import send_sms, sent_row
from tests.support.devices import RunningAgent
from tests.support.server import LiveServer

T0 = 1_773_391_512_000
NUMBER = "+32470123456"
FAST = {"command_timeout": 1.0, "send_timeout": 2.0, "poll_interval": 0.2,
        "reopen_delays": (0.1, 0.4)}  # fmt: skip


def make_driver(modem: ModemEmulator, **options: Any) -> ModemDriver:
    return ModemDriver(port=modem.port, **{**FAST, **options})


@pytest.fixture
async def driver(modem: ModemEmulator) -> AsyncIterator[ModemDriver]:
    driver = make_driver(modem)
    await driver.start()
    await until(lambda: driver.opened == 1)
    yield driver
    await driver.close()


async def until(predicate: Callable[[], object], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def next_inbound(events: AsyncIterator[object], seconds: float = 5.0) -> InboundSms:
    async with asyncio.timeout(seconds):
        while not isinstance(event := await anext(events), InboundSms):
            pass
    return event


async def next_report(events: AsyncIterator[object], seconds: float = 5.0) -> DeliveryReport:
    async with asyncio.timeout(seconds):
        while not isinstance(event := await anext(events), DeliveryReport):
            pass
    return event


async def no_report(events: AsyncIterator[object], seconds: float = 0.6) -> None:
    """No delivery report within ``seconds``; ``events`` is finished afterwards."""
    with pytest.raises(TimeoutError):
        await next_report(events, seconds)


def srr(submit_hex: str) -> bool:
    """Whether TP-SRR (bit 5 of the SMS-SUBMIT's first octet) is set."""
    octets = bytes.fromhex(submit_hex)
    return bool(octets[1 + octets[0]] & 0x20)


async def cancelled(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def outgoing(text: str, to: str = NUMBER) -> OutgoingSms:
    return OutgoingSms(guid="a" * 40, to=to, text=text)


class TestDialogue:
    @pytest.mark.anyio
    async def test_init_turns_echo_off_and_asks_for_pdu_mode_and_notifications(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        assert {"ATE0", "AT+CMEE=1", "AT+CPIN?", "AT+CMGF=0", "AT+CNMI=2,1,0,1,0"} <= set(
            modem.commands
        )
        assert await driver.read_status() == StatusUpdate(signal=signal_bars(18))

    @pytest.mark.anyio
    async def test_the_pin_is_entered_once_and_the_modem_then_works(
        self, modem: ModemEmulator
    ) -> None:
        modem.pin = "1234"
        driver = make_driver(modem, pin="1234")
        await driver.start()
        try:
            assert (await driver.send(outgoing("after the PIN"))).ok
        finally:
            await driver.close()
        assert modem.pin_entries == ["1234"]
        assert [s.text for s in modem.sent] == ["after the PIN"]

    @pytest.mark.anyio
    async def test_a_wrong_pin_is_never_entered_twice(self, modem: ModemEmulator) -> None:
        modem.pin = "1234"
        driver = make_driver(modem, pin="0000")
        await driver.start()
        try:
            await until(lambda: modem.pin_entries)
            await asyncio.sleep(1.0)  # several reopening delays
            outcome = await driver.send(outgoing("x"))
        finally:
            await driver.close()
        assert modem.pin_entries == ["0000"]
        assert not outcome.ok
        assert not outcome.operator
        assert "PIN" in outcome.error

    @pytest.mark.anyio
    @pytest.mark.parametrize(("code", "retryable"), [(42, True), (332, True), (21, False),
                                                     (304, False), (8, False)])  # fmt: skip
    async def test_cms_errors_are_retryable_or_final(
        self, modem: ModemEmulator, driver: ModemDriver, code: int, retryable: bool
    ) -> None:
        modem.cms_errors.append(code)
        outcome = await driver.send(outgoing("x"))
        assert not outcome.ok
        assert outcome.operator is retryable
        assert f"+CMS ERROR: {code}" in outcome.error
        assert (await driver.send(outgoing("again"))).ok  # the modem is still fine

    @pytest.mark.anyio
    async def test_a_notification_in_the_middle_of_a_send_is_handled_not_mistaken(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        index = modem.store(pdu.encode_deliver("+15550001", "mid-send", at_ms=T0)[0])
        modem.urc_during_next = f'+CMTI: "SM",{index}'
        events = driver.events()
        send = asyncio.create_task(driver.send(outgoing("hello")))
        await until(lambda: modem.urc_during_next is None)
        modem.urc_during_next = "+CSQ: 3,99"  # in the next command's answer
        assert (await send).ok
        inbound = await next_inbound(events)
        assert (inbound.number, inbound.text, inbound.at_ms) == ("+15550001", "mid-send", T0)
        await until(lambda: modem.urc_during_next is None)
        await events.aclose()

    @pytest.mark.anyio
    async def test_the_late_answer_of_a_cancelled_send_is_not_taken_for_the_next_ones(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        modem.send_delay = 0.5
        first = asyncio.create_task(driver.send(outgoing("cancelled while sending")))
        await until(lambda: modem.sent)
        await cancelled(first)
        await until(lambda: driver.opened == 2)  # reopened: what was unread is flushed
        modem.send_delay = 0.0
        assert (await driver.send(outgoing("next"))).ok
        assert [s.text for s in modem.sent] == ["cancelled while sending", "next"]

    @pytest.mark.anyio
    async def test_sends_go_one_at_a_time_each_with_its_own_reference(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        long_text = "x" * 200
        outcomes = await asyncio.gather(*(driver.send(outgoing(long_text)) for _ in range(3)))
        assert all(o.ok for o in outcomes)
        assert len(modem.sent) == 6
        references = [s.concat.reference for s in modem.sent if s.concat]
        assert references[0::2] == references[1::2]  # a message's parts were not interleaved
        assert len(set(references)) == 3

    @pytest.mark.anyio
    async def test_long_messages_sent_before_the_modem_is_ready_keep_their_own_references(
        self, modem: ModemEmulator
    ) -> None:
        """Sends that arrive while the modem is still opening wait for it together; each keeps
        the reference it was given, or the recipient's phone would join their parts."""
        driver = make_driver(modem)
        sends = [asyncio.create_task(driver.send(outgoing("y" * 200))) for _ in range(3)]
        await asyncio.sleep(0.05)  # all three are waiting for the modem
        await driver.start()
        try:
            outcomes = await asyncio.gather(*sends)
        finally:
            await driver.close()
        assert all(o.ok for o in outcomes)
        references = [s.concat.reference for s in modem.sent if s.concat]
        assert len(references) == 6
        assert len(set(references)) == 3


class TestDeliveryReports:
    @pytest.mark.anyio
    async def test_each_part_asks_for_a_report_and_the_last_ones_report_is_passed_on(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        events = driver.events()
        before = int(time.time()) * 1000
        message = OutgoingSms(guid="b" * 40, to=NUMBER, text="z" * 200)
        assert (await driver.send(message)).ok
        assert len(modem.sent_pdus) == 2
        assert all(srr(sent) for sent in modem.sent_pdus)
        report = await next_report(events)
        assert report.guid == "b" * 40
        assert report.at_ms >= before  # the discharge time of the report, to the second
        assert len(modem.reports) == 2  # the first part's report changed nothing
        await no_report(events)
        await events.aclose()

    @pytest.mark.anyio
    async def test_a_report_in_the_middle_of_another_command_is_taken_whole(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        modem.report_delay = None
        events = driver.events()
        assert (await driver.send(outgoing("reported later"))).ok
        report = pdu.encode_status_report(1, NUMBER, at_ms=T0, discharged_ms=T0 + 4000)
        modem.urc_during_next = cds_lines(report)  # before the +CSQ line of the next poll
        assert await next_report(events) == DeliveryReport(guid="a" * 40, at_ms=T0 + 4000)
        await until(lambda: modem.urc_during_next is None)
        assert driver.opened == 1  # nothing was mistaken for an answer
        assert (await driver.read_status()).signal == signal_bars(18)
        assert (await driver.send(outgoing("after"))).ok
        await events.aclose()

    @pytest.mark.anyio
    async def test_a_report_for_an_unknown_reference_is_ignored(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        events = driver.events()
        report = pdu.encode_status_report(77, NUMBER, at_ms=T0, discharged_ms=T0)
        modem.unsolicited(cds_lines(report))
        await no_report(events)
        events = driver.events()  # the timeout ended the last one
        assert (await driver.send(outgoing("still fine"))).ok
        assert (await next_report(events)).guid == "a" * 40
        await events.aclose()

    @pytest.mark.anyio
    @pytest.mark.parametrize("status", [0x20, 0x41, 0x65, 0x03])
    async def test_a_message_not_delivered_reports_nothing(
        self, modem: ModemEmulator, driver: ModemDriver, status: int
    ) -> None:
        modem.report_status = status
        events = driver.events()
        assert (await driver.send(outgoing("undeliverable"))).ok
        await until(lambda: modem.reports)
        await no_report(events)
        await events.aclose()

    @pytest.mark.anyio
    async def test_a_stored_report_is_read_and_deleted_once_the_server_has_it(
        self, modem: ModemEmulator
    ) -> None:
        modem.store_reports = True
        driver = make_driver(modem, sweep_interval=0.1)
        await driver.start()
        events = driver.events()
        try:
            assert (await driver.send(outgoing("stored report"))).ok
            report = await next_report(events)
            assert report.guid == "a" * 40
            [index] = modem.storage
            assert f"AT+CMGR={index}" in modem.commands  # read where +CDSI said
            await no_report(events)  # sweeps meanwhile: not handed over twice, not deleted
            assert modem.deleted == []
            assert report.ref is not None
            driver.acknowledged(report.ref)
            await until(lambda: modem.deleted == [index])
        finally:
            await driver.close()

    @pytest.mark.anyio
    async def test_a_modem_refusing_to_route_reports_sends_without_asking_for_them(
        self, modem: ModemEmulator
    ) -> None:
        modem.refuse_report_routing = True
        driver = make_driver(modem)
        await driver.start()
        try:
            assert (await driver.send(outgoing("no report"))).ok
        finally:
            await driver.close()
        assert "AT+CNMI=2,1,0,0,0" in modem.commands
        assert not srr(modem.sent_pdus[0])
        assert modem.reports == []

    @pytest.mark.anyio
    async def test_reports_can_be_turned_off(self, modem: ModemEmulator) -> None:
        driver = make_driver(modem, delivery_reports=False)
        await driver.start()
        try:
            assert (await driver.send(outgoing("no report"))).ok
        finally:
            await driver.close()
        assert not any(c.startswith("AT+CNMI=2,1,0,1") for c in modem.commands)
        assert not srr(modem.sent_pdus[0])


class TestInbound:
    @pytest.mark.anyio
    async def test_a_notification_is_read_with_cmgr_of_the_index_it_names(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        events = driver.events()
        await until(lambda: "AT+CMGL=4" in modem.commands)  # the one look at start-up
        listings = modem.commands.count("AT+CMGL=4")
        modem.store(pdu.encode_deliver("+15550009", "filler", at_ms=T0)[0])
        index = modem.store(pdu.encode_deliver("+15550001", "read me", at_ms=T0)[0])
        modem.unsolicited(f'+CMTI: "SM",{index}')
        inbound = await next_inbound(events)
        assert (inbound.number, inbound.text) == ("+15550001", "read me")
        assert f"AT+CMGR={index}" in modem.commands
        assert modem.commands.count("AT+CMGL=4") == listings  # not listed again for it
        await events.aclose()

    @pytest.mark.anyio
    async def test_an_sms_is_deleted_only_once_the_server_has_acknowledged_it(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        events = driver.events()
        [index] = modem.receive("MyBank", "Your code is 1234", at_ms=T0)
        inbound = await next_inbound(events)
        assert (inbound.number, inbound.text, inbound.at_ms, inbound.sim) == (
            "MyBank", "Your code is 1234", T0, 1)  # fmt: skip
        asking = asyncio.create_task(anext(events))  # the agent stored it: not enough
        await asyncio.sleep(0.5)  # polls meanwhile: kept, not read twice
        assert not asking.done()
        assert index in modem.storage
        assert modem.deleted == []
        assert inbound.ref is not None
        driver.acknowledged(inbound.ref)
        await until(lambda: modem.deleted == [index])
        assert index not in modem.storage
        await cancelled(asking)
        await events.aclose()

    @pytest.mark.anyio
    async def test_the_same_sms_read_again_has_the_same_key_and_another_one_not(
        self, modem: ModemEmulator
    ) -> None:
        modem.receive("+15550007", "same", at_ms=T0)
        modem.receive("+15550007", "same", at_ms=T0 + 1000)
        keys = []
        for _ in range(2):  # two runs of the agent
            driver = make_driver(modem)
            await driver.start()
            events = driver.events()
            try:
                keys.append([(await next_inbound(events)).key for _ in range(2)])
            finally:
                await events.aclose()
                await driver.close()
        assert keys[0] == keys[1]
        assert len(set(keys[0])) == 2
        assert None not in keys[0]

    @pytest.mark.anyio
    async def test_a_late_ack_never_deletes_a_newer_sms_in_the_freed_slot(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        events = driver.events()
        [index] = modem.receive("+15550001", "first", at_ms=T0)
        first = await next_inbound(events)
        modem.storage.pop(index)  # deleted by someone else (a phone, ModemManager)
        assert modem.receive("+15550002", "second", at_ms=T0 + 5000) == [index]
        assert (await next_inbound(events)).text == "second"
        assert first.ref is not None
        driver.acknowledged(first.ref)
        await asyncio.sleep(0.5)
        assert modem.deleted == []
        assert pdu.decode(modem.storage[index].pdu).text == "second"  # type: ignore[union-attr]
        await events.aclose()

    @pytest.mark.anyio
    async def test_a_multipart_sms_is_deleted_only_once_the_whole_of_it_is_acknowledged(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        events = driver.events()
        indexes = modem.receive("+15550004", "z" * 300, at_ms=T0, reference=7)
        assert len(indexes) == 2
        inbound = await next_inbound(events)
        assert inbound.text == "z" * 300
        await asyncio.sleep(0.3)
        assert modem.deleted == []
        assert inbound.ref is not None
        driver.acknowledged(inbound.ref)
        await until(lambda: sorted(modem.deleted) == sorted(indexes))
        assert modem.storage == {}
        await events.aclose()

    @pytest.mark.anyio
    async def test_sms_stored_before_start_are_read_and_multipart_is_joined(
        self, modem: ModemEmulator
    ) -> None:
        text = "Long 😀 message " * 12
        parts = pdu.encode_deliver("+15550002", text, at_ms=T0, reference=9)
        assert len(parts) == 3
        for part in reversed(parts):
            modem.store(part)
        modem.store(pdu.encode_submit("+15550003", "a draft")[0].hex, status=2)  # the owner's
        driver = make_driver(modem)
        await driver.start()
        events = driver.events()
        try:
            inbound = await next_inbound(events)
            assert (inbound.number, inbound.text) == ("+15550002", text)
            assert inbound.ref is not None
            driver.acknowledged(inbound.ref)
            await until(lambda: len(modem.storage) == 1)  # the draft is the owner's
        finally:
            await events.aclose()
            await driver.close()

    @pytest.mark.anyio
    async def test_an_sms_not_stored_by_the_agent_is_handed_over_again(
        self, modem: ModemEmulator
    ) -> None:
        [index] = modem.receive("+15550007", "not lost", at_ms=T0)
        for _ in range(2):  # the agent stops before storing it, then starts again
            driver = make_driver(modem)
            await driver.start()
            events = driver.events()
            try:
                assert (await next_inbound(events)).text == "not lost"
            finally:
                await events.aclose()
                await driver.close()
        assert modem.deleted == []
        assert index in modem.storage

    @pytest.mark.anyio
    async def test_an_sms_whose_notification_was_lost_is_found_by_a_later_look(
        self, modem: ModemEmulator
    ) -> None:
        driver = make_driver(modem, sweep_interval=0.5)
        await driver.start()
        events = driver.events()
        try:
            await until(lambda: "AT+CMGL=4" in modem.commands)
            modem.store(pdu.encode_deliver("+15550008", "quiet arrival", at_ms=T0)[0])
            assert (await next_inbound(events)).text == "quiet arrival"
        finally:
            await events.aclose()
            await driver.close()

    @pytest.mark.anyio
    async def test_a_multipart_sms_waits_for_its_missing_part(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        first, second = pdu.encode_deliver("+15550004", "y" * 200, at_ms=int(time.time() * 1000))
        events = driver.events()
        modem.store(first)
        modem.unsolicited('+CMTI: "SM",1')
        with pytest.raises(TimeoutError):
            await next_inbound(events, seconds=0.6)
        events = driver.events()
        index = modem.store(second)
        modem.unsolicited(f'+CMTI: "SM",{index}')
        assert (await next_inbound(events)).text == "y" * 200
        await events.aclose()


class TestSilentModem:
    @pytest.mark.anyio
    async def test_a_silent_modem_is_reported_reopened_and_used_again(
        self, modem: ModemEmulator, driver: ModemDriver
    ) -> None:
        events = driver.events()
        modem.silent = True
        async with asyncio.timeout(5):
            while await anext(events) != StatusUpdate(signal=None):
                pass
        outcome = await driver.send(outgoing("while silent"))
        assert not outcome.ok
        assert outcome.operator  # never reached the modem: worth a retry
        modem.silent = False
        await until(lambda: driver.opened >= 2)
        assert (await driver.send(outgoing("back"))).ok
        assert [s.text for s in modem.sent] == ["back"]
        await events.aclose()


class TestThroughTheServer:
    @pytest.fixture
    def agent(
        self, server: LiveServer, modem: ModemEmulator, tmp_path: Path
    ) -> Iterator[tuple[RunningAgent, Any]]:
        account = server.create_account()
        device = server.add_device(account)
        running = RunningAgent(
            server.url, device.token, tmp_path / "agent", driver=make_driver(modem)
        ).start()
        yield running, account
        running.stop()
        assert running.error is None

    def test_single_multipart_and_emoji_messages_end_sent_with_the_right_pdus(
        self, server: LiveServer, modem: ModemEmulator, agent: tuple[RunningAgent, Any]
    ) -> None:
        _, account = agent
        texts = ["Your table is ready", "Long {GSM} text € " * 12, "Bon appétit 🍝 " * 8]
        with server.client() as http:
            guids = [send_sms(http, account, message=text) for text in texts]
            for guid in guids:
                eventually(lambda g=guid: sent_row(http, account, g)["status"] == "sent")
        by_text: dict[str, list[pdu.Submit]] = {}
        for submit in modem.sent:
            key = submit.concat.reference if submit.concat else -1
            by_text.setdefault(str(key), []).append(submit)
        messages = sorted(
            (pdu.join_texts([p.text for p in parts]), len(parts), {p.dcs for p in parts})
            for parts in by_text.values()
        )
        assert messages == sorted([(texts[0], 1, {0}), (texts[1], 2, {0}), (texts[2], 2, {8})])
        assert {s.to for s in modem.sent} == {NUMBER}

    def test_an_inbound_sms_appears_once_in_getsms_and_leaves_the_modem(
        self, server: LiveServer, modem: ModemEmulator, agent: tuple[RunningAgent, Any]
    ) -> None:
        _, account = agent
        modem.receive("+15550005", "Table for two at 8?", at_ms=T0)
        with server.client() as http:

            def inbox() -> list[dict[str, Any]]:
                body = http.get("/getsms/", params={"apikey": account.api_key}).json()
                return body["result"]["sms"]  # type: ignore[no-any-return]

            [row] = eventually(lambda: (rows := inbox()) and rows)
            assert row["message"] == "Table for two at 8?"
            assert row["number"] == "+15550005"
            modem.receive("+15550006", "second", at_ms=T0 + 1000)
            eventually(lambda: len(inbox()) == 2)
            eventually(lambda: not modem.storage)
            time.sleep(0.5)
            assert len(inbox()) == 2

    def test_a_delivered_message_shows_delivered_in_the_sent_log(
        self, server: LiveServer, modem: ModemEmulator, agent: tuple[RunningAgent, Any]
    ) -> None:
        _, account = agent
        with server.client() as http:
            guid = send_sms(http, account, message="Your order is on its way")

            def logged() -> dict[str, Any]:
                params = {"apikey": account.api_key, "guid_message": guid}
                [row] = http.get("/log/sent/sms/", params=params).json()["result"]["sms"]
                return dict(row)

            row = eventually(lambda: (r := logged())["delivered"] == "1" and r)
        assert row["status"] == "sent"  # type: ignore[index]
        assert row["delivered_timestamp"] >= row["send_from_mobile_timestamp"]  # type: ignore[index]
        assert modem.reports

    def test_a_congested_network_is_retried_and_a_rejection_fails(
        self, server: LiveServer, modem: ModemEmulator, agent: tuple[RunningAgent, Any]
    ) -> None:
        _, account = agent
        with server.client() as http:
            modem.cms_errors.append(42)
            congested = send_sms(http, account, message="congested")
            row = eventually(
                lambda: (r := sent_row(http, account, congested))["retries"] == 1 and r
            )
            assert row["status"] == "queued"  # type: ignore[index]  # retried after a backoff
            modem.cms_errors.append(21)
            rejected = send_sms(http, account, message="rejected")
            row = eventually(
                lambda: (r := sent_row(http, account, rejected))["status"] == "failed" and r
            )
            assert "+CMS ERROR: 21" in row["send_from_mobile_erreur"]  # type: ignore[index]
        assert modem.sent == []

    def test_the_agent_outlives_a_silent_modem(
        self, server: LiveServer, modem: ModemEmulator, agent: tuple[RunningAgent, Any]
    ) -> None:
        running, account = agent
        eventually(lambda: running.driver.opened == 1)
        modem.silent = True
        time.sleep(1.0)
        modem.silent = False
        eventually(lambda: running.driver.opened >= 2)
        with server.client() as http:
            guid = send_sms(http, account, message="after the outage")
            eventually(lambda: sent_row(http, account, guid)["status"] == "sent")
        assert running.error is None
        assert [s.text for s in modem.sent] == ["after the outage"]


class TestCommandLine:
    def test_the_modem_driver_needs_a_serial_port(self) -> None:
        from tests.agent.test_command import AGENT_CLI, REPO, agent_env

        done = subprocess.run(
            [
                *(sys.executable, "-c", AGENT_CLI, "--driver", "modem", "--token", "t"),
                *("--server", "http://127.0.0.1:9"),
            ],
            cwd=REPO,
            env=agent_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 2
        assert "--serial-port" in done.stderr

    @pytest.mark.parametrize(
        ("flags", "expected"),
        [([], True), (["--delivery-reports"], True), (["--no-delivery-reports"], False)],
    )
    def test_the_modem_asks_for_delivery_reports_unless_told_not_to(
        self, monkeypatch: pytest.MonkeyPatch, flags: list[str], expected: bool
    ) -> None:
        import typer
        from typer.testing import CliRunner

        from simgate.agent import command

        chosen: list[bool] = []

        def modem_driver(*_: object, delivery_reports: bool) -> None:
            chosen.append(delivery_reports)
            raise typer.Exit(0)

        monkeypatch.setattr(command, "_modem_driver", modem_driver)
        monkeypatch.setattr(command, "configure_logging", lambda *_: None)  # this process's
        app = typer.Typer()
        app.command()(command.agent_command)
        server = ("--server", "http://127.0.0.1:9")
        done = CliRunner().invoke(app, ["--driver", "modem", "--token", "t", *server, *flags])
        assert done.exit_code == 0, done.output
        assert chosen == [expected]
