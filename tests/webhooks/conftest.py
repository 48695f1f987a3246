"""Fixtures of the webhook tests: loopback receivers and helpers to drive the server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from simgate import bus
from simgate.clock import now_ms
from tests.support.server import Account, LiveServer
from tests.webhooks.receiver import Receiver

#: Settings of every server here: receivers live on loopback, and a fixed key seals secrets
#: (no key file is created in the working directory for PostgreSQL databases).
WEBHOOK_SETTINGS: dict[str, object] = {
    "webhook_allow_private": True,
    "secret_key": "test-only secret key of the webhook tests, 32+ chars",
}


class ShiftedClock:
    """The server's clock, moved forward on demand so that retry waits pass at once."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def __call__(self) -> int:
        return now_ms() + self.offset_ms

    def advance(self, seconds: float) -> None:
        self.offset_ms += int(seconds * 1000)


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(**options: Any) -> Receiver:
        receiver = Receiver(**options).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def add_webhook(http: httpx.Client, account: Account, url: str, **params: str) -> tuple[int, str]:
    """Register an endpoint through the API: its id and secret."""
    response = http.post(
        "/v1/webhooks/add/", data={"apikey": account.api_key, "url": url, **params}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return int(body["id"]), str(body["secret"])


def log(http: httpx.Client, account: Account, endpoint_id: int, **params: str) -> list[Any]:
    response = http.get(
        "/v1/webhooks/deliveries/",
        params={"apikey": account.api_key, "id": str(endpoint_id), **params},
    )
    assert response.status_code == 200, response.text
    return list(response.json()["deliveries"])


def wake_worker(server: LiveServer) -> None:
    """Tell the server's delivery worker to look again (after moving its clock)."""

    async def publish() -> None:
        server.ctx.bus.publish(bus.WEBHOOK_WORK, "0")
        await asyncio.sleep(0)

    server.call(publish())
