"""The agent runner against a scripted protocol-1 server over real loopback WebSockets."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from http import HTTPStatus

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from simgate.agent.drivers.base import Driver, DriverEvent, OutgoingSms, RadioOutcome
from simgate.agent.outbox import UNKNOWN_OUTCOME_ERROR
from simgate.agent.runner import AgentAuthError, ReconnectPolicy, _Backoff
from simgate.protocol import format_phone_time
from tests.agent.scripted_server import (
    SID,
    AgentFactory,
    ScriptedServer,
    guid,
    read_lines,
    send_frame,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]


class TestHandshake:
    async def test_hello_describes_the_device_and_welcome_connects_it(
        self, agents: AgentFactory
    ) -> None:
        seen: list[str] = []
        async with (
            ScriptedServer() as server,
            agents.running(server, on_connected=seen.append) as runner,
        ):
            assert runner.sid == SID
            assert runner.connected
        assert seen == [SID]
        hello = server.hellos[0]
        assert hello["protocol"] == 1
        assert hello["version"].startswith("simgate-agent/")
        assert hello["driver"] == "simulator"
        assert hello["sims"] == [1, 2]
        assert hello["capabilities"] == ["sms"]
        assert hello["battery"] == 100
        assert hello["signal"] == 4

    async def test_server_ping_is_answered_with_pong(self, agents: AgentFactory) -> None:
        async with ScriptedServer() as server, agents.running(server):
            await server.send({"type": "ping"})
            await server.wait_for("pong")

    async def test_error_and_unknown_frames_do_not_disturb_the_agent(
        self, agents: AgentFactory
    ) -> None:
        async with ScriptedServer() as server, agents.running(server) as runner:
            await server.send({"type": "error", "code": "invalid_frame", "message": "bad"})
            await server.send({"type": "config", "whatever": True})
            await server.send({"type": "send", "guid": 5})  # malformed: logged, ignored
            await server.send({"type": "ping"})
            await server.wait_for("pong")
            assert runner.connections == 1


class TestSending:
    async def test_send_is_accepted_transmitted_and_reported_sent(
        self, agents: AgentFactory
    ) -> None:
        async with ScriptedServer() as server, agents.running(server) as runner:
            await server.send(send_frame(guid(1), sim=2, text="Hello there"))
            [accepted] = await server.wait_for("accepted")
            [sent] = await server.wait_for("sent")
            assert accepted == {"type": "accepted", "guid": guid(1)}
            assert sent["guid"] == guid(1)
            assert sent["sim"] == 2
            assert len(sent["id"]) == 32
            assert isinstance(sent["at"], int)
            await asyncio.wait_for(runner.outbox.emptied.wait(), 5)
        [line] = read_lines(agents.outbox_file)
        assert line["guid"] == guid(1)
        assert line["to"] == "+32470123456"
        assert line["text"] == "Hello there"
        assert line["sim"] == 2
        assert line["at"].endswith("Z")
        # accepted comes before the outcome
        types = [frame["type"] for _, frame in server.frames]
        assert types.index("accepted") < types.index("sent")

    async def test_operator_failure_is_reported_failed_with_operator_true(
        self, agents: AgentFactory
    ) -> None:
        driver = agents.simulator(failure_rate=1.0)
        async with ScriptedServer() as server, agents.running(server, driver):
            await server.send(send_frame(guid(2)))
            [failed] = await server.wait_for("failed")
        assert failed["guid"] == guid(2)
        assert failed["operator"] is True
        assert failed["error"] == "simulated operator error"
        assert read_lines(agents.outbox_file) == []

    async def test_an_unavailable_sim_fails_without_reaching_the_radio(
        self, agents: AgentFactory
    ) -> None:
        async with ScriptedServer() as server, agents.running(server):
            await server.send(send_frame(guid(3), sim=7))
            await server.send(send_frame(guid(4), sim=None, channel="whatsapp"))
            failures = await server.wait_for("failed", 2)
        errors = {frame["guid"]: frame for frame in failures}
        assert "SIM 7" in errors[guid(3)]["error"]
        assert "WhatsApp" in errors[guid(4)]["error"]
        assert not any(frame["operator"] for frame in failures)
        assert read_lines(agents.outbox_file) == []

    async def test_a_slow_send_does_not_hold_up_the_others(self, agents: AgentFactory) -> None:
        driver = GatedDriver(slow_guid=guid(10))
        async with ScriptedServer() as server, agents.running(server, driver):
            await server.send(send_frame(guid(10)))
            await server.send(send_frame(guid(11)))
            await server.send(send_frame(guid(12)))
            sent = await server.wait_for("sent", 2)
            assert {frame["guid"] for frame in sent} == {guid(11), guid(12)}
            driver.release.set()
            sent = await server.wait_for("sent", 3)
        assert sent[-1]["guid"] == guid(10)


class TestDeliveryGuarantees:
    async def test_unacked_report_is_resent_with_the_same_id_after_a_drop(
        self, agents: AgentFactory
    ) -> None:
        async with ScriptedServer() as server, agents.running(server):
            server.ack = lambda frame: False
            await server.send(send_frame(guid(20)))
            [first] = await server.wait_for("sent", connection=1)
            server.ack = lambda frame: True
            await server.drop()
            [again] = await server.wait_for("sent", connection=2)
        assert again == first

    async def test_unacked_reports_survive_an_agent_restart_in_their_order(
        self, agents: AgentFactory
    ) -> None:
        async with ScriptedServer() as server:
            server.ack = lambda frame: False
            driver = agents.simulator()
            async with agents.running(server, driver):
                await server.send(send_frame(guid(30)))
                await server.wait_for("sent")
                driver.inject_received("+32470000001", "first inbound")
                driver.inject_mobile_sent("+32470000002", "typed on the phone")
                await server.wait_for("mobile_sent")
            before = [frame for _, frame in server.frames if "id" in frame]
            server.ack = lambda frame: True
            async with agents.running(server) as second:
                await server.wait_for("mobile_sent", connection=2)
                await asyncio.wait_for(second.outbox.emptied.wait(), 5)
            after = [frame for number, frame in server.frames if number == 2 and "id" in frame]
        assert [frame["type"] for frame in before] == ["sent", "received", "mobile_sent"]
        assert after == before
        assert len(read_lines(agents.outbox_file)) == 1

    async def test_acked_reports_are_not_resent_after_a_reconnect(
        self, agents: AgentFactory
    ) -> None:
        async with ScriptedServer() as server, agents.running(server) as runner:
            await server.send(send_frame(guid(40)))
            await server.wait_for("sent")
            await asyncio.wait_for(runner.outbox.emptied.wait(), 5)
            await server.drop()
            await server.wait_connections(2)
            await server.send({"type": "ping"})
            await server.wait_for("pong", connection=2)
        assert server.of_type("sent", connection=2) == []

    async def test_a_resent_guid_is_not_transmitted_twice_but_reported_again(
        self, agents: AgentFactory
    ) -> None:
        async with ScriptedServer() as server, agents.running(server) as runner:
            await server.send(send_frame(guid(50)))
            [first] = await server.wait_for("sent")
            await asyncio.wait_for(runner.outbox.emptied.wait(), 5)
            await server.drop()
            await server.wait_connections(2)
            await server.send(send_frame(guid(50)))
            await server.wait_for("accepted", connection=2)
            [again] = await server.wait_for("sent", connection=2)
        assert again["guid"] == guid(50)
        assert again["id"] != first["id"]  # the first report was acked: a fresh id
        assert (again["sim"], again["at"]) == (first["sim"], first["at"])
        assert len(read_lines(agents.outbox_file)) == 1

    async def test_a_resent_guid_with_an_unacked_report_gets_the_same_report(
        self, agents: AgentFactory
    ) -> None:
        async with ScriptedServer() as server, agents.running(server):
            server.ack = lambda frame: False
            await server.send(send_frame(guid(60)))
            [first] = await server.wait_for("sent")
            await server.drop()
            await server.wait_connections(2)
            await server.send(send_frame(guid(60)))
            await server.wait_for("accepted", connection=2)
            await server.wait_for("sent", connection=2)
            await server.send({"type": "ping"})
            await server.wait_for("pong", connection=2)
        assert all(frame == first for frame in server.of_type("sent"))
        assert len(read_lines(agents.outbox_file)) == 1

    async def test_a_duplicate_send_on_one_connection_is_transmitted_once(
        self, agents: AgentFactory
    ) -> None:
        driver = agents.simulator(delay=0.2)
        async with ScriptedServer() as server, agents.running(server, driver):
            await server.send(send_frame(guid(70)))
            await server.send(send_frame(guid(70)))
            await server.wait_for("accepted", 2)
            await server.wait_for("sent")
            await server.send({"type": "ping"})
            await server.wait_for("pong")
        assert len(server.of_type("sent")) == 1
        assert len(read_lines(agents.outbox_file)) == 1

    async def test_a_retry_after_an_acked_operator_failure_is_transmitted(
        self, agents: AgentFactory
    ) -> None:
        driver = agents.simulator(failure_rate=1.0)
        async with ScriptedServer() as server, agents.running(server, driver) as runner:
            await server.send(send_frame(guid(80)))
            await server.wait_for("failed")
            await asyncio.wait_for(runner.outbox.emptied.wait(), 5)
            driver.failure_rate = 0.0
            await server.send(send_frame(guid(80)))  # the server's automatic retry
            [sent] = await server.wait_for("sent")
        assert sent["guid"] == guid(80)
        assert len(read_lines(agents.outbox_file)) == 1

    async def test_a_send_interrupted_by_a_stop_is_reported_as_unknown_after_restart(
        self, agents: AgentFactory
    ) -> None:
        driver = GatedDriver(slow_guid=guid(90))
        async with ScriptedServer() as server:
            async with agents.running(server, driver, stop_grace=0.1):
                await server.send(send_frame(guid(90)))
                await server.wait_for("accepted")
                await asyncio.wait_for(driver.started.wait(), 5)
            # The server has not stored the failure yet when it resends what it dispatched.
            server.ack = lambda frame: False
            async with agents.running(server):
                [failed] = await server.wait_for("failed", connection=2)
                await server.send(send_frame(guid(90)))
                await server.wait_for("accepted", connection=2)
                await server.send({"type": "ping"})
                await server.wait_for("pong", connection=2)
        assert failed["guid"] == guid(90)
        assert failed["operator"] is False
        assert failed["error"] == UNKNOWN_OUTCOME_ERROR
        assert driver.transmitted == []
        assert read_lines(agents.outbox_file) == []


class TestInbound:
    async def test_inject_inbound_produces_received_frames_with_unique_ids(
        self, agents: AgentFactory
    ) -> None:
        driver = agents.simulator(inject_inbound=5)
        async with ScriptedServer() as server, agents.running(server, driver):
            received = await server.wait_for("received", 5)
        assert len({frame["id"] for frame in received}) == 5
        assert [frame["number"] for frame in received] == [f"+15550100{i}" for i in range(1, 6)]
        assert [frame["text"] for frame in received] == [
            f"Simulated inbound message {i}" for i in range(1, 6)
        ]
        assert all(frame["sim"] == 1 and isinstance(frame["at"], int) for frame in received)

    async def test_inject_inbound_happens_once_not_on_every_reconnect(
        self, agents: AgentFactory
    ) -> None:
        driver = agents.simulator(inject_inbound=2)
        async with ScriptedServer() as server, agents.running(server, driver) as runner:
            await server.wait_for("received", 2)
            await asyncio.wait_for(runner.outbox.emptied.wait(), 5)
            await server.drop()
            await server.wait_connections(2)
            await server.send({"type": "ping"})
            await server.wait_for("pong", connection=2)
        assert len(server.of_type("received")) == 2

    async def test_mobile_sent_carries_the_phone_local_formatted_time(
        self, agents: AgentFactory
    ) -> None:
        driver = agents.simulator()
        async with ScriptedServer() as server, agents.running(server, driver):
            driver.inject_mobile_sent("+32470999999", "typed by hand", at_ms=1_700_000_000_000)
            [frame] = await server.wait_for("mobile_sent")
        assert frame["number"] == "+32470999999"
        assert frame["text"] == "typed by hand"
        assert frame["at"] == 1_700_000_000_000
        assert frame["formatted"] == format_phone_time(1_700_000_000_000)

    async def test_status_changes_are_reported_without_an_id(self, agents: AgentFactory) -> None:
        driver = agents.simulator()
        async with ScriptedServer() as server, agents.running(server, driver):
            driver.set_status(battery=15, signal=1)
            [status] = await server.wait_for("status")
        assert status == {"type": "status", "battery": 15, "signal": 1, "charging": None}


class TestAuthentication:
    async def test_close_4401_ends_the_run_without_retrying(self, agents: AgentFactory) -> None:
        async with ScriptedServer() as server:
            runner = agents.runner(server, token="wrong-token")
            with pytest.raises(AgentAuthError, match="invalid device token"):
                await asyncio.wait_for(runner.run(), 5)
            await asyncio.sleep(0.5)  # several backoff periods: no further attempt
        assert server.attempts == 1
        assert server.connections == 0


class TestConnectionLifecycle:
    async def test_http_401_at_the_handshake_is_an_auth_error_too(
        self, agents: AgentFactory
    ) -> None:
        attempts = 0

        def refuse(connection: ServerConnection, request: Request) -> Response:
            nonlocal attempts
            attempts += 1
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid device token\n")

        async with serve(
            lambda ws: ws.wait_closed(), "127.0.0.1", 0, process_request=refuse
        ) as raw:
            port = raw.sockets[0].getsockname()[1]
            runner = agents.runner(ScriptedServer(), url=f"http://127.0.0.1:{port}")
            with pytest.raises(AgentAuthError, match="HTTP 401"):
                await asyncio.wait_for(runner.run(), 5)
        assert attempts == 1

    async def test_stop_while_the_server_is_unreachable_returns_promptly(
        self, agents: AgentFactory
    ) -> None:
        async with ScriptedServer() as server:
            url = server.url  # a port nobody listens on once the server is closed
        runner = agents.runner(server, url=url)
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.3)
        assert not task.done()
        runner.stop()
        await asyncio.wait_for(task, 3)

    async def test_a_quiet_server_gets_pinged_by_the_agent(self, agents: AgentFactory) -> None:
        async with ScriptedServer(heartbeat=1) as server, agents.running(server):
            await server.wait_for("ping")

    def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets(self) -> None:
        backoff = _Backoff(ReconnectPolicy(initial=0.2, maximum=30.0), random.Random(1))
        delays = [backoff.next_delay() for _ in range(12)]
        caps = [min(30.0, 0.2 * 2**n) for n in range(12)]
        assert all(cap / 2 <= delay <= cap for delay, cap in zip(delays, caps, strict=True))
        backoff.reset()
        assert backoff.next_delay() <= 0.2


class GatedDriver(Driver):
    """Sends at once, except ``slow_guid``, which waits for ``release``."""

    name = "gated"

    def __init__(self, slow_guid: str) -> None:
        super().__init__(sims=(1, 2))
        self.slow_guid = slow_guid
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.transmitted: list[str] = []

    async def send(self, message: OutgoingSms) -> RadioOutcome:
        if message.guid == self.slow_guid:
            self.started.set()
            await self.release.wait()
        self.transmitted.append(message.guid)
        return RadioOutcome.success(message.sim)

    async def events(self) -> AsyncIterator[DriverEvent]:
        quiet: asyncio.Queue[DriverEvent] = asyncio.Queue()  # this phone never hears anything
        while True:
            yield await quiet.get()
