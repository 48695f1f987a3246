"""``simgate device list|remove`` and ``simgate account list`` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_server_commands import env, simgate

__all__ = ["env"]  # the fixture, shared with the server commands' tests


@pytest.fixture
def owner(env: dict[str, str]) -> str:
    done = simgate(
        "account", "create", "--email", "ops@example.com", "--password", "pw123456", env=env
    )
    assert done.returncode == 0, done.stderr
    return "ops@example.com"


def add_device(env: dict[str, str], account: str, label: str) -> str:
    done = simgate("device", "add", "--account", account, "--label", label, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["sid"])


class TestDeviceList:
    def test_json_lists_each_device_with_its_presence(
        self, env: dict[str, str], owner: str
    ) -> None:
        sid = add_device(env, owner, "Office phone")
        done = simgate("device", "list", "--account", owner, "--json", env=env)
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["paired"] == 1
        assert data["online"] == 0
        [device] = data["devices"]
        assert device["sid"] == sid
        assert device["label"] == "Office phone"
        assert device["online"] is False
        assert device["last_seen"] is None

    def test_the_table_shows_the_sid_and_label(self, env: dict[str, str], owner: str) -> None:
        sid = add_device(env, owner, "Modem")
        done = simgate("device", "list", "--account", owner, env=env)
        assert done.returncode == 0, done.stderr
        assert sid in done.stdout
        assert "Modem" in done.stdout

    def test_an_account_without_devices_says_how_to_add_one(
        self, env: dict[str, str], owner: str
    ) -> None:
        done = simgate("device", "list", "--account", owner, env=env)
        assert done.returncode == 0
        assert "simgate device add" in done.stdout

    def test_an_unknown_account_is_an_error(self, env: dict[str, str]) -> None:
        done = simgate("device", "list", "--account", "nobody@example.com", env=env)
        assert done.returncode == 1
        assert "No account" in done.stderr


class TestDeviceRemove:
    def test_remove_takes_the_device_off_the_list(self, env: dict[str, str], owner: str) -> None:
        sid = add_device(env, owner, "Old phone")
        done = simgate("device", "remove", sid, "--account", owner, "--yes", "--json", env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["sid"] == sid
        listed = json.loads(simgate("device", "list", "--account", owner, "--json", env=env).stdout)
        assert listed["devices"] == []

    def test_an_unknown_sid_is_an_error(self, env: dict[str, str], owner: str) -> None:
        done = simgate("device", "remove", "NOPE", "--account", owner, "--yes", env=env)
        assert done.returncode == 1
        assert "NOPE" in done.stderr


def test_account_list_shows_every_account(env: dict[str, str], owner: str, tmp_path: Path) -> None:
    add_device(env, owner, "phone")
    done = simgate("account", "list", "--json", env=env)
    assert done.returncode == 0, done.stderr
    [account] = json.loads(done.stdout)["accounts"]
    assert account["email"] == owner
    assert account["devices"] == 1
    table = simgate("account", "list", env=env)
    assert owner in table.stdout


def test_shell_completion_is_offered(env: dict[str, str]) -> None:
    done = simgate("--help", env=env)
    assert "--install-completion" in done.stdout


def test_help_shows_readable_value_names_and_no_type_for_flags(env: dict[str, str]) -> None:
    done = simgate("send", "--help", env={**env, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    wait = next(line for line in done.stdout.splitlines() if "--wait" in line)
    assert "<bool>" not in wait
    to = next(line for line in done.stdout.splitlines() if "--to" in line)
    assert "NUMBER" in to
    assert "list[str]" not in done.stdout
