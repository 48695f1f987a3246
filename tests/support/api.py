"""Helpers of the tests that speak the compatible API: what a phone reports, what a client sends,
and the checked shapes of the answers (each body validated against its contract schemas)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from simgate.domain.states import MessageState
from simgate.services import delivery, devices, inbox
from simgate.services.devices import Device
from simgate.store import messages as message_store
from tests.contract import validate
from tests.support.server import Account, LiveServer, PairedDevice

#: The recipient of the messages the tests send when the number does not matter.
NUMBER = "+32470123456"
#: 2026-03-13 08:45:12 UTC, a Friday: the moment test SMS are dated when the date matters.
T0 = 1_773_391_512_000


def device_of(server: LiveServer, paired: PairedDevice) -> Device:
    """The server's view of a paired device, as its WebSocket connection would authenticate."""
    return server.call(devices.authenticate(server.ctx, paired.token))


def hand_over(server: LiveServer, device: Device, guid: str) -> None:
    """Dispatch the queued message ``guid`` to ``device``, as the dispatcher would claim it."""

    async def claim() -> None:
        async with server.ctx.db.begin() as conn:
            row = await message_store.transition(
                conn,
                device.account_id,
                guid,
                MessageState.DISPATCHED,
                values={
                    "device_id": device.id,
                    "device_sid": device.sid,
                    "lease_until_ms": server.ctx.clock() + 600_000,
                },
            )
        assert row is not None, f"{guid} is not queued"

    server.call(claim())


def report_sent(server: LiveServer, device: Device, guid: str) -> None:
    """The device is handed ``guid`` and reports it sent."""
    hand_over(server, device, guid)
    assert server.call(delivery.report_sent(server.ctx, device, guid, 1)) is delivery.Report.SENT


def report_failed(server: LiveServer, device: Device, guid: str, error: str) -> None:
    """The device is handed ``guid`` and reports a failure not worth an automatic retry."""
    hand_over(server, device, guid)
    outcome = server.call(delivery.report_failed(server.ctx, device, guid, error, operator=False))
    assert outcome is delivery.Report.FAILED


def receive(server: LiveServer, device: Device, number: str, text: str, at_ms: int = T0) -> str:
    """Store an SMS as the device's ``received`` frame would; its GUID."""
    sms = inbox.Inbound(
        frame_id=uuid.uuid4().hex, number=number, text=text, received_ms=at_ms, sim=1
    )
    return server.call(inbox.record_received(server.ctx, device, sms)).key


def send_sms(http: httpx.Client, account: Account, **params: str) -> str:
    """Send one SMS with ``GET /sendsms/`` (to ``NUMBER``, "hello" unless told); its GUID."""
    query = {"apikey": account.api_key, "recipients": NUMBER, "message": "hello", **params}
    response = http.get("/sendsms/", params=query)
    assert response.status_code == 200, response.text
    return response.json()["result"]["id"]  # type: ignore[no-any-return]


def sent_log(http: httpx.Client, account: Account, **filters: str) -> list[dict[str, Any]]:
    """The rows ``/log/sent/sms/`` lists for ``filters``, checked against its schema."""
    body = http.get("/log/sent/sms/", params={"apikey": account.api_key, **filters}).json()
    validate(body, "simgate.SentLog")
    return body["result"]["sms"]  # type: ignore[no-any-return]


def sent_row(http: httpx.Client, account: Account, guid: str) -> dict[str, Any]:
    """The one sent-log row of the message ``guid``."""
    [found] = sent_log(http, account, guid_message=guid)
    return found


def accepted(response: httpx.Response) -> dict[str, Any]:
    """The ``result`` of a successful send, checked against both contracts."""
    assert response.status_code == 200, response.text
    body = response.json()
    validate(body, "official.SendMessageResponse")
    validate(body, "simgate.SendSuccess")
    return body["result"]  # type: ignore[no-any-return]


def send_refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A refused send: its body, checked against both contracts, with nothing sent."""
    assert response.status_code == status, response.text
    body = response.json()
    validate(body, "official.ErrorResponse")
    validate(body, "simgate.SendError")
    assert body["error"] == code
    assert body["result"] == {"error": code, "sent": "0"}
    return body  # type: ignore[no-any-return]


def refused(
    response: httpx.Response, status: int, code: str, parameter: str | None = None
) -> dict[str, Any]:
    """An error answer of any other endpoint: its body, checked against both contracts; when
    ``parameter`` is given, the error must name it."""
    assert response.status_code == status, response.text
    body = response.json()
    validate(body, "official.ErrorResponse")
    validate(body, "simgate.Error")
    assert body["error"] == code
    if parameter is not None:
        assert body["parameter"] == parameter
    return body  # type: ignore[no-any-return]


def mutation(response: httpx.Response) -> dict[str, Any]:
    """A successful change (mark, alias, resend, delete, device update): its body."""
    assert response.status_code == 200, response.text
    body = response.json()
    validate(body, "simgate.Mutation")
    return body  # type: ignore[no-any-return]
