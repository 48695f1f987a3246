"""``simgate webhook ...`` in a subprocess, as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.webhooks.receiver import Receiver, accepted


def run(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "simgate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "--json" in args else done.stdout


class TestWebhookCommands:
    def test_add_list_test_log_remove(
        self, tmp_path: Path, receivers: Callable[..., Receiver]
    ) -> None:
        receiver = receivers()
        env = {
            **os.environ,
            "SIMGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
            "SIMGATE_WEBHOOK_ALLOW_PRIVATE": "1",
            "SIMGATE_PASSWORD_HASH_COST": "test",
        }
        email = "ops@example.test"
        run(env, "account", "create", "--email", email, "--password", "correct horse", "--json")
        added = run(env, "webhook", "add", "--account", email, "--url", receiver.url, "--json")
        assert set(added) == {"id", "secret"}
        assert (tmp_path / "simgate.key").stat().st_mode & 0o777 == 0o600
        listed = run(env, "webhook", "list", "--account", email, "--json")
        assert [item["id"] for item in listed["webhooks"]] == [added["id"]]
        assert added["secret"] not in json.dumps(listed)
        tested = run(env, "webhook", "test", str(added["id"]), "--account", email, "--json")
        assert tested["status"] == "delivered"
        assert tested["last_status_code"] == 200
        [event] = accepted(receiver.snapshot(), added["secret"])
        assert event["data"]["test"] is True
        log = run(env, "webhook", "log", str(added["id"]), "--account", email, "--json")
        assert [row["event_id"] for row in log["deliveries"]] == [event["id"]]
        run(env, "webhook", "remove", str(added["id"]), "--account", email, "--json")
        assert run(env, "webhook", "list", "--account", email, "--json") == {"webhooks": []}

    def test_another_accounts_endpoint_is_not_found(
        self, tmp_path: Path, receivers: Callable[..., Receiver]
    ) -> None:
        env = {
            **os.environ,
            "SIMGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
            "SIMGATE_WEBHOOK_ALLOW_PRIVATE": "1",
            "SIMGATE_PASSWORD_HASH_COST": "test",
        }
        for email in ("a@example.test", "b@example.test"):
            run(env, "account", "create", "--email", email, "--password", "correct horse")
        url = receivers().url
        added = run(env, "webhook", "add", "--account", "a@example.test", "--url", url, "--json")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "simgate",
                "webhook",
                "remove",
                str(added["id"]),
                "--account",
                "b@example.test",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1
        assert "No webhook endpoint" in done.stderr
