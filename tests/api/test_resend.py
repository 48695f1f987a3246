"""``/resend/``: a failed message goes back to the queue; anything else is refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simgate.services import devices
from tests.conftest import eventually
from tests.contract import validate
from tests.support.devices import RunningAgent
from tests.support.server import Account, LiveServer, PairedDevice

NUMBER = "+32470123456"


@pytest.fixture
def account(server: LiveServer) -> Account:
    return server.create_account()


@pytest.fixture
def phone(server: LiveServer, account: Account) -> PairedDevice:
    return server.add_device(account)


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Callable[..., RunningAgent]]:
    started: list[RunningAgent] = []

    def start(server: LiveServer, token: str, **options: Any) -> RunningAgent:
        agent = RunningAgent(server.url, token, tmp_path / f"agent{len(started)}", **options)
        started.append(agent.start())
        return agent

    yield start
    for agent in started:
        agent.stop()


def send(http: httpx.Client, account: Account, **params: str) -> str:
    response = http.get(
        "/sendsms/", params={"apikey": account.api_key, "recipients": NUMBER, **params}
    )
    assert response.status_code == 200, response.text
    return response.json()["result"]["id"]  # type: ignore[no-any-return]


def row(http: httpx.Client, account: Account, guid: str) -> dict[str, Any]:
    body = http.get("/log/sent/sms/", params={"apikey": account.api_key, "guid_message": guid})
    validate(body.json(), "simgate.SentLog")
    [found] = body.json()["result"]["sms"]
    return found  # type: ignore[no-any-return]


def fail(server: LiveServer, phone: PairedDevice, guid: str, error: str = "no credit") -> None:
    """The phone reports a failure that is not worth an automatic retry."""
    device = server.call(devices.authenticate(server.ctx, phone.token))
    server.call(devices.report_failed(server.ctx, device, guid, error, operator=False))


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    validate(body, "official.ErrorResponse")
    validate(body, "simgate.Error")
    assert body["error"] == code
    return body  # type: ignore[no-any-return]


@pytest.fixture
def failed(server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice) -> str:
    """The GUID of a message of ``account`` that its phone reported as failed."""
    guid = send(http, account, message="x")
    fail(server, phone, guid)
    return guid


class TestResendFailed:
    @pytest.mark.parametrize("route", [("GET", "/resend/"), ("POST", "/resend")])
    def test_a_failed_message_is_queued_again_with_its_errors_cleared(
        self, http: httpx.Client, account: Account, failed: str, route: tuple[str, str]
    ) -> None:
        before = row(http, account, failed)
        assert (before["status"], before["send_from_mobile_erreur"]) == ("failed", "no credit")
        method, path = route
        response = http.request(method, path, params={"apikey": account.api_key, "guid": failed})
        assert response.status_code == 200, response.text
        body = response.json()
        validate(body, "simgate.Mutation")
        assert (body["success"], body["guid"], body["status"]) == (True, failed, "queued")
        after = row(http, account, failed)
        assert after["status"] == "queued"
        assert after["send_from_mobile_erreur"] == ""
        assert after["error_api"] == ""
        assert after["send_from_mobile_sIdentifiant"] == ""

    def test_the_guid_may_be_sent_in_upper_case(
        self, http: httpx.Client, account: Account, failed: str
    ) -> None:
        response = http.post("/resend/", json={"apikey": account.api_key, "guid": failed.upper()})
        assert response.status_code == 200, response.text
        assert row(http, account, failed)["status"] == "queued"

    def test_a_connected_phone_gets_the_resent_message_at_once(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        phone: PairedDevice,
        agents: Callable[..., RunningAgent],
    ) -> None:
        guid = send(http, account, message="second chance")
        fail(server, phone, guid)  # before any phone is online: it never went out
        agent = agents(server, phone.token)
        assert row(http, account, guid)["status"] == "failed"
        assert http.get("/resend/", params={"apikey": account.api_key, "guid": guid}).is_success
        eventually(lambda: row(http, account, guid)["status"] == "sent")
        assert [(sms.guid, sms.text) for sms in agent.driver.transmitted] == [
            (guid, "second chance")
        ]


class TestResendRefused:
    def test_a_queued_message_is_a_409_state_conflict(
        self, http: httpx.Client, account: Account
    ) -> None:
        guid = send(http, account, message="x")
        body = error_of(
            http.get("/resend/", params={"apikey": account.api_key, "guid": guid}),
            409,
            "state_conflict",
        )
        assert body["status"] == "queued"
        assert row(http, account, guid)["status"] == "queued"

    def test_a_sent_message_is_a_409_and_stays_sent(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        guid = send(http, account, message="x")
        device = server.call(devices.authenticate(server.ctx, phone.token))
        server.call(devices.report_sent(server.ctx, device, guid, 1))
        body = error_of(
            http.post("/resend/", data={"apikey": account.api_key, "guid": guid}),
            409,
            "state_conflict",
        )
        assert body["status"] == "sent"
        assert row(http, account, guid)["status"] == "sent"

    def test_whatsapp_without_a_whatsapp_phone_cannot_be_resent(
        self, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        guid = send(http, account, message="x", waonly="yes")
        assert row(http, account, guid)["status"] == "failed"
        body = error_of(
            http.get("/resend/", params={"apikey": account.api_key, "guid": guid}),
            409,
            "state_conflict",
        )
        assert "WhatsApp" in body["message"]
        logged = row(http, account, guid)
        assert logged["status"] == "failed"
        assert logged["error_api"] != ""

    def test_an_unknown_guid_is_a_404(self, http: httpx.Client, account: Account) -> None:
        response = http.get("/resend/", params={"apikey": account.api_key, "guid": "a" * 40})
        error_of(response, 404, "not_found")

    def test_another_accounts_failed_message_is_a_404_and_stays_failed(
        self, server: LiveServer, http: httpx.Client, account: Account, failed: str
    ) -> None:
        guid = failed
        stranger = server.create_account()
        foreign = http.get("/resend/", params={"apikey": stranger.api_key, "guid": guid})
        unknown = http.get("/resend/", params={"apikey": stranger.api_key, "guid": "b" * 40})
        assert (
            error_of(foreign, 404, "not_found").keys() == error_of(unknown, 404, "not_found").keys()
        )
        assert row(http, account, guid)["status"] == "failed"

    @pytest.mark.parametrize("value", [None, "", "  "])
    def test_a_missing_guid_is_a_400(
        self, http: httpx.Client, account: Account, value: str | None
    ) -> None:
        params = {"apikey": account.api_key}
        if value is not None:
            params["guid"] = value
        body = error_of(http.get("/resend/", params=params), 400, "missing_parameter")
        assert body["parameter"] == "guid"

    @pytest.mark.parametrize("value", ["123", "g" * 40, "a" * 41, "a" * 39 + "!", "12.5"])
    def test_a_value_that_cannot_be_a_guid_is_a_400(
        self, http: httpx.Client, account: Account, failed: str, value: str
    ) -> None:
        response = http.get("/resend/", params={"apikey": account.api_key, "guid": value})
        assert error_of(response, 400, "invalid_parameter")["parameter"] == "guid"
        assert row(http, account, failed)["status"] == "failed"

    def test_without_a_valid_api_key_nothing_is_resent(
        self, http: httpx.Client, account: Account, failed: str
    ) -> None:
        error_of(http.get("/resend/", params={"guid": failed}), 400, "missing_apikey")
        error_of(
            http.get("/resend/", params={"guid": failed, "apikey": "z" * 40}),
            403,
            "invalid_apikey",
        )
        assert row(http, account, failed)["status"] == "failed"


class TestOnEachEngine:
    def test_resend_moves_only_a_failed_message(
        self, server_factory: Callable[..., LiveServer], database_url: str
    ) -> None:
        server = server_factory(database_url=database_url)
        account = server.create_account()
        phone = server.add_device(account)
        with server.client() as http:
            guid = send(http, account, message="x")
            fail(server, phone, guid)
            params = {"apikey": account.api_key, "guid": guid}
            assert http.get("/resend/", params=params).json()["status"] == "queued"
            error_of(http.get("/resend/", params=params), 409, "state_conflict")
            assert row(http, account, guid)["status"] == "queued"
