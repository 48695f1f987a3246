"""Two ``simgate serve`` processes on one PostgreSQL database are one gateway: a message accepted
by one reaches a phone connected to the other at once, not at the other's next safety tick
(60 s), and a listening connection cut from the database side delays nothing.

Before the PostgreSQL bus, process B learned of A's message only from its scheduler's safety
tick: the first test fails there by a minute.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scale.conftest import Gateway
from tests.support.devices import RunningAgent
from tests.support.processes import (
    cli_json,
    listener_pids,
    make_tenants,
    terminate_backend,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(90)]

#: Accept on one process → transmitted by a phone on the other, at most (seconds). Generous
#: for a loaded 2-core machine; a message waiting for the safety tick takes up to 60 s.
PROMPTLY = 1.0


class TestOneGateway:
    def test_a_message_accepted_by_one_process_reaches_a_phone_on_the_other_promptly(
        self, gateway: Gateway
    ) -> None:
        """Accepted by A; the only phone is connected to B: transmitted within a second."""
        guid, _ = gateway.send(gateway.b_url, "warm-up, accepted where the phone is")
        gateway.transmitted(guid, 10)
        for n in range(3):
            guid, started = gateway.send(gateway.a_url, f"across {n}")
            seen = gateway.transmitted(guid, 10)
            assert seen - started < PROMPTLY, f"took {seen - started:.3f} s"

    def test_a_cut_listening_connection_delays_nothing_and_comes_back(
        self, gateway: Gateway
    ) -> None:
        """B's listening connection is terminated by PostgreSQL, and A announces a message
        for B's phone right away, while B may still be away: the message reaches the phone
        within seconds (B looks at the store when it listens again), far sooner than the
        60 s safety sweep, and B listens again on a new connection."""
        [before] = listener_pids(gateway.database_url, gateway.b.pid)
        assert terminate_backend(gateway.database_url, before)
        guid, started = gateway.send(gateway.a_url, "while B was not listening")
        seen = gateway.transmitted(guid, 30)
        assert seen - started < 5.0, f"took {seen - started:.3f} s"
        after: list[int] = []

        def listening_again() -> bool:
            after[:] = listener_pids(gateway.database_url, gateway.b.pid)
            return bool(after)

        wait_until(listening_again, 10, "B listens again")
        assert after != [before]
        log = gateway.processes.output("b")
        assert "bus_connection_lost" in log
        assert "bus_reconnected" in log
        guid, started = gateway.send(gateway.a_url, "after the outage")
        assert gateway.transmitted(guid, 10) - started < PROMPTLY


def test_a_device_removed_from_the_cli_is_disconnected_by_the_server_holding_it(
    gateway: Gateway, tmp_path: Path
) -> None:
    """``simgate device remove`` is a process of its own: the server the phone is connected to
    hears of the removal through PostgreSQL and closes the phone's connection at once (with
    the refused-token code, so the agent stops), instead of serving a deleted device."""
    [tenant] = make_tenants(gateway.database_url, [1], prefix="removed")
    agent = RunningAgent(gateway.b_url, tenant.tokens[0], tmp_path / "agent").start()
    try:
        listed = cli_json(gateway.env, "device", "list", "--account", tenant.email)
        [sid] = [device["sid"] for device in listed["devices"]]
        cli_json(gateway.env, "device", "remove", sid, "--account", tenant.email, "--yes")
        wait_until(lambda: not agent.running, 5, "the removed phone disconnected")
    finally:
        agent.stop()
