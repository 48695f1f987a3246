"""The termux driver against stand-in ``termux-*`` commands (``tests/agent/termux_bin/``).

The stand-ins print what the real commands print and read a JSON "phone" (inbox, sent box,
battery, failure modes) named by ``$SIMGATE_TEST_PHONE``; the folder goes first on ``PATH``, as
the real commands are on a phone. The driver is tested on its own, then behind the real agent
runner talking to a real server.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from simgate.agent.drivers.base import DriverEvent, InboundSms, OutgoingSms, OwnerSentSms
from simgate.agent.drivers.termux import STATE_FILE_NAME, TermuxDriver, detect_sims
from simgate.store.tables import devices as devices_table
from tests.agent.termux_bin._phone import STATE_ENV, phone, store
from tests.agent.test_command import AGENT_CLI, REPO, agent_env
from tests.conftest import eventually, make_settings
from tests.support.devices import RunningAgent
from tests.support.server import Account, LiveServer

BIN = Path(__file__).parent / "termux_bin"

pytestmark = [pytest.mark.timeout(60)]


class Android:
    """The stand-in phone: what tests do on it and read from it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with phone(path):
            pass  # created with the default state

    def receive(self, number: str, text: str, at_ms: int | None = None) -> int:
        """An SMS arrives in the inbox; its ``_id``."""
        with phone(self.path) as state:
            return store(state, "inbox", number, text, at_ms)

    def owner_sends(self, number: str, text: str) -> int:
        """The owner types an SMS in the phone's messaging app."""
        with phone(self.path) as state:
            return store(state, "sent", number, text, None)

    def fail(self, command: str, mode: str, **details: object) -> None:
        """``mode``: ``hang``, ``permission`` or ``exit`` (with ``code`` and ``stderr``)."""
        with phone(self.path) as state:
            state["fail"][command] = {"mode": mode, **details}

    def heal(self, command: str) -> None:
        with phone(self.path) as state:
            state["fail"].pop(command, None)

    def set_battery(self, **values: object) -> None:
        with phone(self.path) as state:
            state["battery"].update(values)

    def handed(self) -> list[dict[str, Any]]:
        """What termux-sms-send handed to Android: ``{"to", "text", "slot"}``."""
        return [{k: v for k, v in sms.items() if k != "at"} for sms in self.handed_at()]

    def handed_at(self) -> list[dict[str, Any]]:
        """The same with ``at``, when it was handed over (Unix seconds)."""
        with phone(self.path) as state:
            return list(state["handed_to_android"])


@pytest.fixture
def android(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Android:
    # The stand-ins' "#!/usr/bin/env python3" finds this venv's Python first: it starts fast.
    path = f"{BIN}:{Path(sys.executable).parent}:{os.environ['PATH']}"
    monkeypatch.setenv("PATH", path)
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "phone.json"))
    return Android(tmp_path / "phone.json")


def termux(state_dir: Path, **options: Any) -> TermuxDriver:
    state_dir.mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {
        "sims": (1, 2),
        "poll_interval": 0.05,
        "command_timeout": 5.0,
        **options,
    }
    return TermuxDriver(state_file=state_dir / STATE_FILE_NAME, **values)


def sms(n: int, sim: int | None = None, to: str = "+32470123456") -> OutgoingSms:
    return OutgoingSms(guid=f"{n:040x}", to=to, text=f"Your code is {n}", sim=sim)


async def next_event(events: AsyncIterator[DriverEvent], wait: float = 5) -> DriverEvent:
    async with asyncio.timeout(wait):
        return await anext(events)


async def sms_events(
    events: AsyncIterator[DriverEvent], count: int, wait: float = 5
) -> list[DriverEvent]:
    """The next ``count`` SMS events (status updates skipped)."""
    found: list[DriverEvent] = []
    while len(found) < count:
        event = await next_event(events, wait)
        if isinstance(event, InboundSms | OwnerSentSms):
            found.append(event)
    return found


@pytest.mark.anyio
class TestSend:
    async def test_the_text_goes_on_stdin_and_our_sim_2_is_android_slot_1(
        self, android: Android, tmp_path: Path
    ) -> None:
        """SIM numbers count from 1, Android's slots from 0; no SIM: the phone's default."""
        driver = termux(tmp_path)
        text = "Price: 5 \\n -n $HOME, 'quoted' «ok»"
        outcome = await driver.send(OutgoingSms(guid="a" * 40, to="+32470123456", text=text, sim=2))
        assert outcome.ok
        assert outcome.sim == 2
        assert (await driver.send(sms(2))).ok
        assert android.handed() == [
            {"to": "+32470123456", "text": text, "slot": 1},
            {"to": "+32470123456", "text": "Your code is 2", "slot": -1},
        ]

    async def test_a_failing_command_is_a_non_operator_failure_with_its_error(
        self, android: Android, tmp_path: Path
    ) -> None:
        android.fail("termux-sms-send", "exit", code=1, stderr="socket(): Permission denied")
        outcome = await termux(tmp_path).send(sms(1))
        assert not outcome.ok
        assert outcome.operator is False
        assert outcome.error == (
            "termux-sms-send failed (exit status 1): socket(): Permission denied"
        )

    async def test_a_refused_permission_is_a_failure_that_says_which(
        self, android: Android, tmp_path: Path
    ) -> None:
        """Termux:API prints {"error": ...} and exits 0 when a permission is missing."""
        android.fail("termux-sms-send", "permission")
        outcome = await termux(tmp_path).send(sms(1))
        assert not outcome.ok
        assert outcome.error == (
            "termux-sms-send: Please grant the following permissions to use this command: "
            "android.permission.READ_PHONE_STATE ,android.permission.SEND_SMS"
        )
        assert android.handed() == []

    async def test_a_hanging_command_is_killed_after_the_timeout(
        self, android: Android, tmp_path: Path
    ) -> None:
        """The Termux:API app missing makes every command hang; the send fails, not the agent."""
        android.fail("termux-sms-send", "hang")
        started = time.monotonic()
        outcome = await termux(tmp_path, command_timeout=0.5).send(sms(1))
        assert time.monotonic() - started < 3
        assert not outcome.ok
        assert outcome.operator is False
        assert "did not answer within 0.5 s" in outcome.error
        assert "Termux:API app" in outcome.error

    async def test_missing_commands_say_how_to_install_them(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        outcome = await termux(tmp_path).send(sms(1))
        assert not outcome.ok
        assert outcome.error == (
            "termux-sms-send not found: install the Termux:API commands with "
            "`pkg install termux-api`"
        )

    async def test_sends_run_one_at_a_time(self, android: Android, tmp_path: Path) -> None:
        driver = termux(tmp_path, command_timeout=0.3)
        android.fail("termux-sms-send", "hang")
        started = time.monotonic()
        outcomes = await asyncio.gather(driver.send(sms(1)), driver.send(sms(2)))
        assert not any(outcome.ok for outcome in outcomes)
        assert time.monotonic() - started >= 0.6  # the second waited for the first

    async def test_a_number_the_command_would_split_is_refused(
        self, android: Android, tmp_path: Path
    ) -> None:
        outcome = await termux(tmp_path).send(sms(1, to="+32470123456,+32470000000"))
        assert not outcome.ok
        assert android.handed() == []


@pytest.mark.anyio
class TestInbox:
    async def test_the_first_run_starts_after_the_newest_sms(
        self, android: Android, tmp_path: Path
    ) -> None:
        android.receive("+32470000001", "old 1")
        android.receive("+32470000002", "old 2")
        events = termux(tmp_path).events()
        await next_event(events)  # the battery status, once the inbox has been read
        android.receive("+32470000003", "new")
        [event] = await sms_events(events, 1)
        assert event == InboundSms(number="+32470000003", text="new", at_ms=event.at_ms)
        await events.aclose()

    async def test_import_last_reports_that_many_existing_sms_first(
        self, android: Android, tmp_path: Path
    ) -> None:
        for n in range(1, 5):
            android.receive(f"+3247000000{n}", f"old {n}")
        events = termux(tmp_path, import_last=2).events()
        found = await sms_events(events, 2)
        assert [event.text for event in found] == ["old 3", "old 4"]  # type: ignore[union-attr]
        await events.aclose()

    async def test_more_new_sms_than_a_page_are_all_reported_once_in_order(
        self, android: Android, tmp_path: Path
    ) -> None:
        driver = termux(tmp_path, page_size=3, poll_interval=0.5)
        events = driver.events()
        await next_event(events)
        for n in range(8):
            android.receive("+32470000001", f"burst {n}")
        found = await sms_events(events, 8)
        assert [event.text for event in found] == [f"burst {n}" for n in range(8)]  # type: ignore[union-attr]
        await events.aclose()

    async def test_the_cursor_moves_only_when_the_next_event_is_asked_for(
        self, android: Android, tmp_path: Path
    ) -> None:
        """The runner asks for the next event once the last one is stored: an SMS handed over
        but not yet stored is reported again after a restart; one stored is not."""
        events = termux(tmp_path).events()
        await next_event(events)
        first_id = android.receive("+32470000001", "first")
        android.receive("+32470000001", "second")
        await sms_events(events, 1)  # "first"
        await events.aclose()  # the agent stops before storing "first"

        events = termux(tmp_path).events()  # restart
        [again, second] = await sms_events(events, 2)
        assert (again.text, second.text) == ("first", "second")  # type: ignore[union-attr]
        await events.aclose()  # "first" stored (the next was asked for), "second" not yet
        saved = json.loads((tmp_path / STATE_FILE_NAME).read_text())
        assert saved["inbox"] == first_id

    async def test_owner_typed_sms_are_reported_and_the_agents_own_are_not(
        self, android: Android, tmp_path: Path
    ) -> None:
        """Android copies what the agent sends into the sent box, next to what the owner typed."""
        driver = termux(tmp_path)
        events = driver.events()
        await next_event(events)
        assert (await driver.send(sms(1, to="+32470123456"))).ok
        android.owner_sends("0470 12 34 56", "On my way")
        [event] = await sms_events(events, 1)
        assert isinstance(event, OwnerSentSms)
        assert (event.number, event.text) == ("0470 12 34 56", "On my way")
        with pytest.raises(TimeoutError):
            await sms_events(events, 1, wait=0.5)
        await events.aclose()

    async def test_a_failing_poll_is_logged_once_and_recovers(
        self, android: Android, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        android.fail("termux-sms-list", "permission")
        received: asyncio.Queue[DriverEvent] = asyncio.Queue()

        async def pump() -> None:  # as the runner reads the stream, all the time
            async for event in termux(tmp_path).events():
                if isinstance(event, InboundSms):
                    await received.put(event)

        with caplog.at_level(logging.INFO, logger="simgate.agent.drivers.termux"):
            reader = asyncio.create_task(pump())
            await asyncio.sleep(0.5)  # several polls
            android.heal("termux-sms-list")
            await asyncio.sleep(0.5)  # the first good read starts the cursor at the newest SMS
            android.receive("+32470000001", "after the permission prompt")
            async with asyncio.timeout(5):
                event = await received.get()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        assert event.text == "after the permission prompt"  # type: ignore[attr-defined]
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings == [
            "termux-sms-list -t inbox: termux-sms-list: Please grant the following permissions to "
            "use this command: android.permission.READ_SMS ,android.permission.READ_CONTACTS "
            "(retrying every 0.05 s)",
            "termux-sms-list -t sent: termux-sms-list: Please grant the following permissions to "
            "use this command: android.permission.READ_SMS ,android.permission.READ_CONTACTS "
            "(retrying every 0.05 s)",
        ]
        assert "termux-sms-list -t inbox works again" in caplog.text


@pytest.mark.anyio
class TestStatus:
    async def test_battery_and_charging_come_from_termux_battery_status(
        self, android: Android, tmp_path: Path
    ) -> None:
        driver = termux(tmp_path, status_interval=0.1)
        status = await driver.read_status()
        assert (status.battery, status.signal, status.charging) == (81, None, False)
        events = driver.events()
        assert await next_event(events) == status
        android.set_battery(percentage=82, plugged="PLUGGED_AC", status="CHARGING")
        changed = await next_event(events)
        assert (changed.battery, changed.charging) == (82, True)  # type: ignore[union-attr]
        await events.aclose()

    def test_the_sim_slots_are_detected_from_the_phone_count(self, android: Android) -> None:
        assert detect_sims() == (1, 2)

    def test_sim_detection_gives_up_on_a_hanging_command(self, android: Android) -> None:
        android.fail("termux-telephony-deviceinfo", "hang")
        started = time.monotonic()
        assert detect_sims(timeout=0.5) is None
        assert time.monotonic() - started < 3


# --------------------------------------------------------------------------------------------
# Behind the real agent runner, against a real server.


@pytest.fixture
def start_agent(tmp_path: Path, android: Android) -> Iterator[Callable[..., RunningAgent]]:
    started: list[RunningAgent] = []

    def start(server: LiveServer, token: str, name: str = "agent", **options: Any) -> RunningAgent:
        state_dir = tmp_path / name
        driver = termux(state_dir, poll_interval=0.1, **options)
        agent = RunningAgent(server.url, token, state_dir, driver=driver)
        started.append(agent.start())
        return agent

    yield start
    for agent in started:
        agent.stop()


def send(http: httpx.Client, account: Account, text: str, **params: str) -> str:
    answer = http.get(
        "/sendsms/",
        params={"apikey": account.api_key, "recipients": "+32470123456", "message": text, **params},
    ).json()
    return answer["result"]["id"]  # type: ignore[no-any-return]


def sent_row(http: httpx.Client, account: Account, guid: str) -> dict[str, Any]:
    body = http.get("/log/sent/sms/", params={"apikey": account.api_key, "guid_message": guid})
    return body.json()["result"]["sms"][0]  # type: ignore[no-any-return]


def inbox(http: httpx.Client, account: Account) -> list[str]:
    body = http.get("/getsms/", params={"apikey": account.api_key}).json()
    return sorted(row["message"] for row in body["result"]["sms"])


def on_port(database_url: str, url: str) -> LiveServer:
    """A server on ``url``'s port again (the agent keeps its address), on the same database."""
    live = LiveServer(lambda base: make_settings(database_url, url))
    live._sock.close()  # rebinding the address a stopped server had
    live._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    live._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    live._sock.bind(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    live.url = url
    return live.start()


class TestThroughTheServer:
    def test_a_message_reaches_termux_sms_send_and_ends_sent(
        self, server: LiveServer, android: Android, start_agent: Callable[..., RunningAgent]
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        start_agent(server, device.token)
        with server.client() as http:
            guid = send(http, account, "Your table is ready", port="2")
            eventually(lambda: sent_row(http, account, guid)["status"] == "sent")
        assert android.handed() == [
            {"to": "+32470123456", "text": "Your table is ready", "slot": 1}
        ]

    def test_the_hello_reports_androids_limit_and_the_battery(
        self, server: LiveServer, android: Android, start_agent: Callable[..., RunningAgent]
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        start_agent(server, device.token)
        query = sa.select(
            devices_table.c.reported_rate_count,
            devices_table.c.reported_rate_seconds,
            devices_table.c.battery,
            devices_table.c.charging,
        ).where(devices_table.c.sid == device.sid)

        async def row() -> Any:
            async with server.ctx.db.connect() as conn:
                return (await conn.execute(query)).one()

        assert tuple(server.call(row())) == (30, 60, 81, False)

    def test_the_server_paces_its_sends_under_androids_limit(
        self, server: LiveServer, android: Android, start_agent: Callable[..., RunningAgent]
    ) -> None:
        """30 SMS per 60 s: one every 2 s, even when three are queued at once."""
        account = server.create_account()
        device = server.add_device(account)
        start_agent(server, device.token)
        with server.client() as http:
            guids = [send(http, account, f"paced {n}") for n in range(3)]
            for guid in guids:
                eventually(lambda g=guid: sent_row(http, account, g)["status"] == "sent")
        times = [sms["at"] for sms in android.handed_at()]
        assert len(times) == 3
        assert min(later - earlier for earlier, later in itertools.pairwise(times)) > 1.5

    def test_an_inbox_sms_appears_once_also_after_a_restart(
        self, server: LiveServer, android: Android, start_agent: Callable[..., RunningAgent]
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        android.receive("+32470999999", "before simgate")  # history: not reported
        agent = start_agent(server, device.token)
        android.receive("+32470000001", "Yes, see you at 8")
        with server.client() as http:
            eventually(lambda: inbox(http, account) == ["Yes, see you at 8"])
            agent.stop()
            android.receive("+32470000002", "while the agent was stopped")
            start_agent(server, device.token)
            expected = ["Yes, see you at 8", "while the agent was stopped"]
            eventually(lambda: inbox(http, account) == expected)
            time.sleep(0.5)  # a few more polls
            assert inbox(http, account) == expected

    def test_an_sms_received_while_the_server_is_down_arrives_once_it_is_back(
        self,
        server_factory: Callable[..., LiveServer],
        sqlite_url: str,
        android: Android,
        start_agent: Callable[..., RunningAgent],
    ) -> None:
        server = server_factory(sqlite_url)
        account = server.create_account()
        device = server.add_device(account)
        agent = start_agent(server, device.token)
        server.stop()
        eventually(lambda: not agent.runner.connected)
        android.receive("+32470000001", "sent during the outage")
        eventually(lambda: agent.runner.outbox.pending_count == 1)  # stored by the agent
        back = on_port(sqlite_url, server.url)
        try:
            with back.client() as http:
                eventually(lambda: inbox(http, account) == ["sent during the outage"], timeout=40)
                time.sleep(0.5)
                assert inbox(http, account) == ["sent during the outage"]
        finally:
            agent.stop()
            back.stop()

    def test_an_sms_the_owner_typed_appears_in_frommobile_and_ours_do_not(
        self, server: LiveServer, android: Android, start_agent: Callable[..., RunningAgent]
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        start_agent(server, device.token)

        def typed() -> list[str]:
            body = http.get("/log/sent/frommobile/", params={"apikey": account.api_key}).json()
            return [row["message"] for row in body["data"]]

        with server.client() as http:
            guid = send(http, account, "Sent through simgate")
            eventually(lambda: sent_row(http, account, guid)["status"] == "sent")
            android.owner_sends("+32470123456", "Typed on the phone")
            eventually(lambda: typed() == ["Typed on the phone"])
            time.sleep(0.5)
            assert typed() == ["Typed on the phone"]

    def test_a_failing_send_ends_failed_and_the_agent_keeps_going(
        self, server: LiveServer, android: Android, start_agent: Callable[..., RunningAgent]
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        agent = start_agent(server, device.token)
        android.fail("termux-sms-send", "exit", code=1, stderr="socket(): Connection refused")
        with server.client() as http:
            guid = send(http, account, "first")
            row = eventually(
                lambda: (r := sent_row(http, account, guid))["status"] == "failed" and r
            )
            assert (
                "termux-sms-send failed (exit status 1): socket(): Connection refused"
                in (
                    row["send_from_mobile_erreur"]  # type: ignore[index]
                )
            )
            android.heal("termux-sms-send")
            guid = send(http, account, "second")
            eventually(lambda: sent_row(http, account, guid)["status"] == "sent")
        assert agent.runner.connected
        assert [sms["text"] for sms in android.handed()] == ["second"]

    def test_a_hanging_send_times_out_and_ends_failed(
        self, server: LiveServer, android: Android, start_agent: Callable[..., RunningAgent]
    ) -> None:
        account = server.create_account()
        device = server.add_device(account)
        start_agent(server, device.token, command_timeout=1.0)
        android.fail("termux-sms-send", "hang")
        with server.client() as http:
            guid = send(http, account, "into the void")
            row = eventually(
                lambda: (r := sent_row(http, account, guid))["status"] == "failed" and r
            )
        assert "did not answer within 1 s" in row["send_from_mobile_erreur"]  # type: ignore[index]


class TestCommandLine:
    def test_simgate_agent_driver_termux_detects_the_sims_and_sends_on_the_one_asked(
        self, server: LiveServer, android: Android, tmp_path: Path
    ) -> None:
        """As on a phone: ``simgate agent --driver termux`` in its own process."""
        account = server.create_account()
        device = server.add_device(account)
        env = agent_env(SIMGATE_DEVICE_TOKEN=device.token, **{STATE_ENV: str(android.path)})
        env["PATH"] = os.environ["PATH"]
        args = ["--server", server.url, "--driver", "termux", "--state-dir", str(tmp_path / "s")]
        process = subprocess.Popen(
            [sys.executable, "-c", AGENT_CLI, *args],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            with server.client() as http:
                guid = send(http, account, "Sent from the command line", port="2")
                eventually(lambda: sent_row(http, account, guid)["status"] == "sent", timeout=20)
        finally:
            process.send_signal(signal.SIGTERM)
            _, log = process.communicate(timeout=20)
        assert process.returncode == 0, log
        assert "termux: SIM slot(s) 1, 2, operator Orange B, SIM ready" in log
        assert android.handed() == [
            {"to": "+32470123456", "text": "Sent from the command line", "slot": 1}
        ]
