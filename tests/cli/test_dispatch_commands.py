"""The operator's dispatch settings from the CLI: device pacing and the account routing policy."""

from __future__ import annotations

import json

from tests.cli.test_server_commands import env, simgate

__all__ = ["env"]


class TestPacingAndRouting:
    def test_limits_set_at_pairing_and_changed_later(self, env: dict[str, str]) -> None:
        simgate("account", "create", "--email", "p@example.com", "--password", "pw123456", env=env)
        added = simgate(
            "device", "add", "--account", "p@example.com", "--rate-per-minute", "6", "--json",
            env=env,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        sid = json.loads(added.stdout)["sid"]
        updated = simgate(
            "device", "update", sid, "--daily-cap", "500", "--rate-per-minute", "0", "--json",
            env=env,
        )  # fmt: skip
        assert updated.returncode == 0, updated.stderr
        assert json.loads(updated.stdout)["pacing"] == {
            "rate_per_minute": None,
            "rate_per_hour": None,
            "daily_cap": 500,
        }
        unknown = simgate("device", "update", "nosuchsid", "--daily-cap", "1", env=env)
        assert unknown.returncode != 0
        assert "Traceback" not in unknown.stderr

    def test_the_routing_policy_is_checked_and_set(self, env: dict[str, str]) -> None:
        simgate("account", "create", "--email", "r@example.com", "--password", "pw123456", env=env)
        chosen = simgate("account", "routing", "--account", "r@example.com", "Sticky", env=env)
        assert chosen.returncode == 0, chosen.stderr
        assert "sticky" in chosen.stdout
        wrong = simgate("account", "routing", "--account", "r@example.com", "fastest", env=env)
        assert wrong.returncode == 1
        assert "round_robin" in wrong.stderr
        assert "Traceback" not in wrong.stderr
