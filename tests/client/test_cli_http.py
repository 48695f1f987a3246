"""``simgate send``, ``simgate inbox`` and ``simgate log`` against a live server.

The commands are run through a Typer app built here from ``simgate.client.commands`` (so they
are tested whatever ``simgate/cli.py`` wires), and once through ``python -m simgate`` in a
subprocess when the main CLI registers them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from simgate.client import Client
from simgate.client.commands import inbox_command, log_command, parse_at, send_command
from tests.conftest import eventually
from tests.support.server import Account, LiveServer, PairedDevice

ALICE = "+32470123456"
BOB = "+32470123457"

app = typer.Typer()
app.command("send")(send_command)
app.command("inbox")(inbox_command)
app.command("log")(log_command)


@pytest.fixture
def run(server: LiveServer, account: Account) -> Callable[..., Result]:
    """Run a command with the server and key in the environment, as a user would set them."""

    def invoke(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
        environment: dict[str, str | None] = {
            "SIMGATE_SERVER": server.url,
            "SIMGATE_API_KEY": account.api_key,
            **(env or {}),
        }
        return CliRunner().invoke(app, list(args), env=environment)

    return invoke


@pytest.fixture
def other_device(server: LiveServer, account: Account) -> PairedDevice:
    return server.add_device(account, "second phone")


def one_line_error(result: Result) -> str:
    """The failure's stderr, checked to be a single ``error: ...`` line."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


class TestSend:
    def test_prints_the_note_and_a_guid_per_recipient(
        self, run: Callable[..., Result], client: Client
    ) -> None:
        result = run("send", "--to", ALICE, "--to", f"{BOB},nope", "--message", "Hello")
        assert result.exit_code == 0, result.output
        rows = client.sent_log()
        assert {row.recipient for row in rows} == {ALICE, BOB}
        assert "2 message(s) queued for sending" in result.stdout
        lines = result.stdout.splitlines()
        for row in rows:
            assert any(row.recipient in line and row.guid in line for line in lines)
        assert any("nope" in line and "rejected:" in line for line in lines)

    def test_json_prints_the_result_for_scripts(
        self, run: Callable[..., Result], client: Client
    ) -> None:
        result = run("send", "--to", ALICE, "--message", "Hello", "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        [row] = client.sent_log()
        assert data["id"] == row.guid
        assert data["guids"] == [row.guid]
        assert (data["recipients"], data["rejected"], data["parts"]) == ([ALICE], [], 1)
        assert "raw" not in data

    def test_sim_and_device_are_passed_on(
        self, run: Callable[..., Result], client: Client, device: PairedDevice
    ) -> None:
        result = run("send", "--to", ALICE, "--message", "Hi", "--sim", "2", "--device", device.sid)
        assert result.exit_code == 0, result.output
        assert client.sent_log()[0].port == 2

    @pytest.mark.parametrize(
        ("at", "expected"),
        [
            ("2030-01-02T03:04:05+02:00", 1893546245),
            ("2030-01-02T01:04:05Z", 1893546245),
            ("2030-01-02T01:04:05", 1893546245),
            ("2030-01-02 01:04:05", 1893546245),
            ("1893546245", 1893546245),
        ],
    )
    def test_at_takes_iso_8601_or_unix_seconds_and_naive_means_utc(
        self, run: Callable[..., Result], client: Client, at: str, expected: int
    ) -> None:
        result = run("send", "--to", ALICE, "--message", "Later", "--at", at)
        assert result.exit_code == 0, result.output
        assert client.sent_log()[0].schedule_timestamp == expected

    @pytest.mark.parametrize(
        "args",
        [
            ("--at", "tomorrow"),
            ("--at", "2030-13-01"),
            ("--sim", "3"),
            ("--sim", "one"),
            ("--unknown", "2"),
        ],
    )
    def test_a_bad_option_is_a_usage_error_and_sends_nothing(
        self, run: Callable[..., Result], client: Client, args: tuple[str, str]
    ) -> None:
        result = run("send", "--to", ALICE, "--message", "Hi", *args)
        assert result.exit_code == 2
        assert args[0] in result.stderr
        assert client.sent_log() == []

    def test_a_missing_message_is_a_usage_error(self, run: Callable[..., Result]) -> None:
        assert run("send", "--to", ALICE).exit_code == 2

    def test_an_empty_message_is_refused_by_the_server(
        self, run: Callable[..., Result], client: Client
    ) -> None:
        result = run("send", "--to", ALICE, "--message", "")
        assert result.exit_code == 1
        assert "missing_parameter" in one_line_error(result)
        assert client.sent_log() == []


class TestInbox:
    def test_lists_received_sms_newest_first(
        self, run: Callable[..., Result], device: PairedDevice, receive: Callable[..., str]
    ) -> None:
        first = receive(device, ALICE, "first text")
        second = receive(device, BOB, "second text")
        result = run("inbox")
        assert result.exit_code == 0, result.output
        out = result.stdout
        assert out.index(second) < out.index(first)
        for text in (ALICE, BOB, "first text", "second text", device.sid):
            assert text in out

    def test_unread_and_device_filter(
        self,
        run: Callable[..., Result],
        client: Client,
        device: PairedDevice,
        other_device: PairedDevice,
        receive: Callable[..., str],
    ) -> None:
        read = receive(device, ALICE, "already read")
        unread = receive(device, ALICE, "not read")
        elsewhere = receive(other_device, ALICE, "other phone")
        client.mark_read(read)
        listed = run("inbox", "--unread", "--device", device.sid).stdout
        assert unread in listed
        assert read not in listed
        assert elsewhere not in listed

    def test_json_lists_the_fields(
        self, run: Callable[..., Result], device: PairedDevice, receive: Callable[..., str]
    ) -> None:
        guid = receive(device, ALICE, "hello")
        result = run("inbox", "--json")
        assert result.exit_code == 0, result.output
        [row] = json.loads(result.stdout)
        assert (row["guid"], row["number"], row["message"], row["read"]) == (
            guid,
            ALICE,
            "hello",
            False,
        )
        assert row["device_sid"] == device.sid

    def test_an_empty_inbox_says_so(self, run: Callable[..., Result]) -> None:
        assert run("inbox").stdout.strip() == "No received SMS."
        assert json.loads(run("inbox", "--json").stdout) == []

    def test_a_text_that_looks_like_markup_is_shown_as_is(
        self, run: Callable[..., Result], device: PairedDevice, receive: Callable[..., str]
    ) -> None:
        receive(device, ALICE, "[bold]not bold[/bold]")
        assert "[bold]not bold[/bold]" in run("inbox").stdout


class TestLog:
    def test_lists_sent_messages_newest_first(
        self, run: Callable[..., Result], client: Client
    ) -> None:
        older = client.send(ALICE, "older text").id
        newer = client.send(BOB, "newer text").id
        out = run("log").stdout
        assert out.index(newer) < out.index(older)
        assert "queued" in out

    def test_guid_and_limit(self, run: Callable[..., Result], client: Client) -> None:
        guids = [client.send(ALICE, f"text {n}").id for n in range(3)]
        only = run("log", "--guid", guids[0], "--json")
        assert [row["guid"] for row in json.loads(only.stdout)] == [guids[0]]
        limited = run("log", "--limit", "2", "--json")
        assert [row["guid"] for row in json.loads(limited.stdout)] == guids[:0:-1]

    def test_a_failed_message_shows_its_error(
        self,
        run: Callable[..., Result],
        client: Client,
        device: PairedDevice,
        fail: Callable[[PairedDevice, str, str], None],
    ) -> None:
        fail(device, client.send(ALICE, "doomed").id, "No service")
        assert "failed: No service" in run("log").stdout

    def test_in_a_terminal_a_long_message_is_cut_but_guids_stay_whole(
        self, run: Callable[..., Result], client: Client
    ) -> None:
        text = "word " * 60
        guid = client.send(ALICE, text).id
        terminal = run("log", env={"FORCE_COLOR": "1", "COLUMNS": "120"}).stdout
        [line] = [line for line in terminal.splitlines() if guid in line]
        assert line.endswith("…")
        assert len(line) == 120
        piped = run("log").stdout
        assert text.strip() in piped

    def test_an_empty_log_says_so(self, run: Callable[..., Result]) -> None:
        assert run("log").stdout.strip() == "No sent SMS."

    def test_a_malformed_guid_is_refused_by_the_server(self, run: Callable[..., Result]) -> None:
        result = run("log", "--guid", "nope")
        assert result.exit_code == 1
        assert "invalid_parameter" in one_line_error(result)


class TestFailures:
    def test_a_wrong_key_is_one_line_on_stderr_and_exit_1(self, run: Callable[..., Result]) -> None:
        result = run("log", env={"SIMGATE_API_KEY": "wrong-key-123"})
        assert result.exit_code == 1
        line = one_line_error(result)
        assert "invalid_apikey" in line
        assert "wrong-key-123" not in result.output
        assert result.stdout == ""

    def test_an_unreachable_server_is_one_line_and_exit_1(self, run: Callable[..., Result]) -> None:
        result = run("inbox", "--server", "http://127.0.0.1:9", "--api-key", "secret-key-123")
        assert result.exit_code == 1
        line = one_line_error(result)
        assert "http://127.0.0.1:9" in line
        assert "secret-key-123" not in result.output

    def test_a_server_that_is_not_a_url_is_a_usage_error(self, run: Callable[..., Result]) -> None:
        result = run("log", "--server", "localhost:8000")
        assert result.exit_code == 2
        assert "--server" in result.stderr

    def test_without_a_key_it_is_a_usage_error(self, run: Callable[..., Result]) -> None:
        result = run("log", env={"SIMGATE_API_KEY": None})
        assert result.exit_code == 2
        assert "--api-key" in result.stderr

    def test_the_options_win_over_the_environment(
        self, run: Callable[..., Result], account: Account, server: LiveServer
    ) -> None:
        env = {"SIMGATE_SERVER": "http://127.0.0.1:9", "SIMGATE_API_KEY": "wrong"}
        result = run("log", "--server", server.url, "--api-key", account.api_key, env=env)
        assert result.exit_code == 0, result.output

    @pytest.mark.parametrize("command", ["send", "inbox", "log"])
    def test_help_never_shows_the_key(self, run: Callable[..., Result], command: str) -> None:
        result = run(command, "--help", env={"SIMGATE_API_KEY": "secret-key-123"})
        assert result.exit_code == 0
        assert "SIMGATE_API_KEY" in result.stdout
        assert "secret-key-123" not in result.stdout


class TestParseAt:
    def test_an_offset_is_honoured(self) -> None:
        assert parse_at("1970-01-01T01:00:00+01:00") == 0

    def test_surrounding_spaces_are_ignored(self) -> None:
        assert parse_at(" 42 ") == 42


def _main_cli_has(command: str) -> bool:
    try:
        from simgate.cli import app as main_app
    except ImportError:
        return False
    return any(info.name == command for info in main_app.registered_commands)


class TestMainCli:
    @pytest.mark.skipif(not _main_cli_has("send"), reason="simgate/cli.py does not register it")
    def test_python_m_simgate_send_and_log(self, server: LiveServer, account: Account) -> None:
        env = {**os.environ, "SIMGATE_SERVER": server.url, "SIMGATE_API_KEY": account.api_key}

        def simgate(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "simgate", *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=False,
            )

        sent = simgate("send", "--to", ALICE, "--message", "from a shell", "--json")
        assert sent.returncode == 0, sent.stderr
        guid = json.loads(sent.stdout)["id"]
        logged = simgate("log", "--guid", guid, "--json")
        assert [row["message"] for row in json.loads(logged.stdout)] == ["from a shell"]
        assert simgate("inbox", "--json").stdout.strip() == "[]"
        refused = simgate("log", "--api-key", "wrong")
        assert refused.returncode == 1
        assert refused.stderr.count("\n") == 1


class TestSendWait:
    def test_wait_ends_0_once_the_phone_sent_it(
        self,
        run: Callable[..., Result],
        server: LiveServer,
        phone: PairedDevice,
        agents: Callable[..., object],
    ) -> None:
        agents(server, phone.token)
        result = run("send", "--to", ALICE, "--message", "Hi", "--wait", "--json")
        assert result.exit_code == 0, result.output
        [message] = json.loads(result.stdout)["messages"]
        assert message["status"] == "sent"

    def test_wait_ends_3_when_no_phone_took_it_in_time(self, run: Callable[..., Result]) -> None:
        result = run("send", "--to", ALICE, "--message", "Hi", "--wait", "--timeout", "1")
        assert result.exit_code == 3, result.output
        assert ": queued" in result.stdout

    def test_wait_ends_1_when_a_message_failed(
        self, run: Callable[..., Result], server: LiveServer, account: Account
    ) -> None:
        """A number that opted out: the server fails its message at once (opted_out)."""
        from simgate.services import optouts

        server.call(optouts.add(server.ctx, account.id, ALICE, "cli"))
        result = run("send", "--to", ALICE, "--message", "Hi", "--wait", "--timeout", "20")
        assert result.exit_code == 1, result.output
        assert ": failed" in result.stdout


class TestListingOptions:
    def test_log_status_keeps_only_that_state(
        self, run: Callable[..., Result], client: Client
    ) -> None:
        client.send([ALICE], "one")
        queued = run("log", "--status", "queued", "--json")
        assert queued.exit_code == 0, queued.output
        assert [row["status"] for row in json.loads(queued.stdout)] == ["queued"]
        sent = run("log", "--status", "sent", "--json")
        assert json.loads(sent.stdout) == []

    def test_log_before_pages_by_guid_or_time(
        self, run: Callable[..., Result], client: Client
    ) -> None:
        first = client.send([ALICE], "first").guids[0]
        second = client.send([BOB], "second").guids[0]
        older = run("log", "--before", second, "--json")
        assert older.exit_code == 0, older.output
        assert [row["guid"] for row in json.loads(older.stdout)] == [first]
        assert json.loads(run("log", "--before", "2000-01-01T00:00:00", "--json").stdout) == []
        assert run("log", "--before", "yesterday").exit_code == 2

    def test_inbox_mark_read_marks_what_it_listed(
        self,
        run: Callable[..., Result],
        server: LiveServer,
        phone: PairedDevice,
        agents: Callable[..., Any],
    ) -> None:
        agent = agents(server, phone.token)
        agent.do(lambda: agent.driver.inject_received("0470 12 34 56", "Hello"))
        eventually(lambda: json.loads(run("inbox", "--json").stdout))
        listed = run("inbox", "--unread", "--mark-read", "--json")
        assert listed.exit_code == 0, listed.output
        assert len(json.loads(listed.stdout)) == 1
        assert json.loads(run("inbox", "--unread", "--json").stdout) == []
