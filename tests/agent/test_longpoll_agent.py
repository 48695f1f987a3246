"""The real agent on the HTTP long-poll fallback (issue 9): chosen with ``transport="longpoll"``,
or by ``auto`` when a proxy refuses the WebSocket upgrade; a message goes end to end."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from simgate.agent.longpoll import device_http_base
from simgate.agent.runner import AgentAuthError, AgentConfig, AgentRunner
from tests.agent.test_command import AGENT_CLI, REPO, agent_env
from tests.conftest import eventually, make_settings
from tests.support.devices import RunningAgent, outbox_lines
from tests.support.server import Account, LiveServer, PairedDevice

pytestmark = pytest.mark.timeout(60)


class RefuseUpgrades:
    """A proxy that breaks WebSockets: every upgrade is answered with an HTTP status."""

    def __init__(self, app: ASGIApp, status: int = 426) -> None:
        self.app = app
        self.status = status
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        self.refused += 1
        await send(
            {
                "type": "websocket.http.response.start",
                "status": self.status,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"no upgrades here"})


def start_agent(
    server: LiveServer, token: str, state_dir: Path, transport: str, **options: Any
) -> RunningAgent:
    agent = RunningAgent(server.url, token, state_dir, **options)
    agent.runner = AgentRunner(
        AgentConfig(
            server=server.url,
            token=token,
            state_dir=state_dir,
            driver=agent.driver,
            transport=transport,
        )
    )
    return agent.start()


@pytest.fixture
def agent_of(tmp_path: Path) -> Iterator[Callable[..., RunningAgent]]:
    started: list[RunningAgent] = []

    def start(server: LiveServer, token: str, transport: str, **options: Any) -> RunningAgent:
        agent = start_agent(server, token, tmp_path / f"agent{len(started)}", transport, **options)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()


def send_sms(server: LiveServer, account: Account, text: str = "over long-poll") -> str:
    with server.client() as client:
        response = client.get(
            "/sendsms/",
            params={"apikey": account.api_key, "recipients": "+32470123456", "message": text},
        )
    assert response.status_code == 200, response.text
    return str(response.json()["result"]["id"])


def status(server: LiveServer, account: Account, guid: str) -> str:
    with server.client() as client:
        body = client.get(
            "/log/sent/sms/", params={"apikey": account.api_key, "guid_message": guid}
        ).json()
    return str(body["result"]["sms"][0]["status"])


def test_the_agent_on_long_poll_sends_a_message_end_to_end(
    server: LiveServer,
    account: Account,
    phone: PairedDevice,
    agent_of: Callable[..., RunningAgent],
) -> None:
    agent = agent_of(server, phone.token, "longpoll")
    assert agent.runner.sid == phone.sid
    guid = send_sms(server, account)
    eventually(lambda: status(server, account, guid) == "sent")
    assert [m.guid for m in agent.driver.transmitted] == [guid]
    # An SMS arriving on the phone goes up through a report and is acked.
    agent.do(lambda: agent.driver.inject_received("+15550100", "hello back"))
    with server.client() as client:
        eventually(
            lambda: client.get("/getsms/", params={"apikey": account.api_key}).json()["result"][
                "sms"
            ]
        )
    eventually(lambda: agent.runner.outbox.pending_count == 0)


@pytest.fixture
def proxied(server_factory: Callable[..., LiveServer], sqlite_url: str) -> Iterator[Any]:
    """A live server behind a proxy that answers 426 to every WebSocket upgrade."""
    live = LiveServer(lambda base: make_settings(sqlite_url, base))
    live.app.add_middleware(RefuseUpgrades)
    live.start()
    try:
        yield live
    finally:
        live.stop()


def test_auto_falls_back_to_long_poll_when_a_proxy_refuses_the_upgrade(
    proxied: LiveServer, agent_of: Callable[..., RunningAgent]
) -> None:
    account = proxied.create_account()
    phone = proxied.add_device(account)
    agent = agent_of(proxied, phone.token, "auto")
    assert agent.runner.sid == phone.sid
    guid = send_sms(proxied, account)
    eventually(lambda: status(proxied, account, guid) == "sent")
    assert [m.guid for m in agent.driver.transmitted] == [guid]


def test_a_refused_token_on_long_poll_stops_the_agent(server: LiveServer, tmp_path: Path) -> None:
    agent = RunningAgent(server.url, "not-a-token", tmp_path / "agent")
    agent.runner = AgentRunner(
        AgentConfig(
            server=server.url,
            token="not-a-token",
            state_dir=tmp_path / "agent",
            driver=agent.driver,
            transport="longpoll",
        )
    )
    agent.start(wait_connected=False)
    eventually(lambda: agent.error is not None)  # the run ends by itself
    assert isinstance(agent.error, AgentAuthError)


@pytest.mark.parametrize(
    ("server", "base"),
    [
        ("http://host:8000", "http://host:8000"),
        ("https://example.com/simgate/", "https://example.com/simgate"),
        ("ws://host:8000/device/ws", "http://host:8000"),
        ("wss://example.com/simgate/device/ws", "https://example.com/simgate"),
    ],
)
def test_the_http_base_of_a_server_url(server: str, base: str) -> None:
    assert device_http_base(server) == base


def test_the_poll_endpoint_answers_plain_http(server: LiveServer, phone: PairedDevice) -> None:
    """What the fallback rests on: the endpoints are ordinary HTTP, no upgrade involved."""
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {phone.token}"}) as c:
        assert c.get("/device/poll", params={"session": "nope"}).status_code == 404


def test_a_stopping_agent_ends_its_long_poll_session_at_once(
    server: LiveServer,
    account: Account,
    phone: PairedDevice,
    agent_of: Callable[..., RunningAgent],
) -> None:
    """The agent's last report closes the session cleanly: the server stops handing it work
    at once, instead of after the poll idle time (a message sent then stays queued)."""
    agent = agent_of(server, phone.token, "longpoll")
    agent.stop()
    assert agent.error is None
    guid = send_sms(server, account)
    time.sleep(0.5)
    assert status(server, account, guid) == "queued"


class TestCommand:
    def run(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", AGENT_CLI, *args],
            cwd=REPO,
            env=agent_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def test_an_unknown_transport_is_a_usage_error_naming_it(self, tmp_path: Path) -> None:
        process = self.run(
            "--server", "http://127.0.0.1:9", "--token", "t", "--transport", "pigeon",
            "--state-dir", str(tmp_path),
        )  # fmt: skip
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 2
        assert "--transport" in stderr

    def test_simgate_agent_transport_longpoll_relays_a_message(
        self, server: LiveServer, account: Account, phone: PairedDevice, tmp_path: Path
    ) -> None:
        outbox = tmp_path / "transmitted.jsonl"
        process = self.run(
            "--server", server.url, "--token", phone.token, "--transport", "longpoll",
            "--state-dir", str(tmp_path / "state"), "--outbox-file", str(outbox),
        )  # fmt: skip
        try:
            guid = send_sms(server, account, "by the command")
            eventually(lambda: status(server, account, guid) == "sent", timeout=20)
            assert [line["guid"] for line in outbox_lines(outbox)] == [guid]
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=20)
        assert process.returncode == 0, stderr
        assert f"connected as {phone.sid}" in stderr
