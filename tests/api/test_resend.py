"""``/resend/``: a failed message goes back to the queue; anything else is refused."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import eventually
from tests.contract import validate
from tests.support.api import device_of, refused, report_failed, report_sent, send_sms, sent_row
from tests.support.devices import RunningAgent
from tests.support.server import Account, LiveServer, PairedDevice


def fail(server: LiveServer, phone: PairedDevice, guid: str, error: str = "no credit") -> None:
    """The phone reports a failure that is not worth an automatic retry."""
    report_failed(server, device_of(server, phone), guid, error)


@pytest.fixture
def failed(server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice) -> str:
    """The GUID of a message of ``account`` that its phone reported as failed."""
    guid = send_sms(http, account, message="x")
    fail(server, phone, guid)
    return guid


class TestResendFailed:
    @pytest.mark.parametrize("route", [("GET", "/resend/"), ("POST", "/resend")])
    def test_a_failed_message_is_queued_again_with_its_errors_cleared(
        self, http: httpx.Client, account: Account, failed: str, route: tuple[str, str]
    ) -> None:
        before = sent_row(http, account, failed)
        assert (before["status"], before["send_from_mobile_erreur"]) == ("failed", "no credit")
        method, path = route
        response = http.request(method, path, params={"apikey": account.api_key, "guid": failed})
        assert response.status_code == 200, response.text
        body = response.json()
        validate(body, "simgate.Mutation")
        assert (body["success"], body["guid"], body["status"]) == (True, failed, "queued")
        after = sent_row(http, account, failed)
        assert after["status"] == "queued"
        assert after["send_from_mobile_erreur"] == ""
        assert after["error_api"] == ""
        assert after["send_from_mobile_sIdentifiant"] == ""

    def test_the_guid_may_be_sent_in_upper_case(
        self, http: httpx.Client, account: Account, failed: str
    ) -> None:
        response = http.post("/resend/", json={"apikey": account.api_key, "guid": failed.upper()})
        assert response.status_code == 200, response.text
        assert sent_row(http, account, failed)["status"] == "queued"

    def test_a_connected_phone_gets_the_resent_message_at_once(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        phone: PairedDevice,
        agents: Callable[..., RunningAgent],
    ) -> None:
        guid = send_sms(http, account, message="second chance")
        fail(server, phone, guid)  # before any phone is online: it never went out
        agent = agents(server, phone.token)
        assert sent_row(http, account, guid)["status"] == "failed"
        assert http.get("/resend/", params={"apikey": account.api_key, "guid": guid}).is_success
        eventually(lambda: sent_row(http, account, guid)["status"] == "sent")
        assert [(sms.guid, sms.text) for sms in agent.driver.transmitted] == [
            (guid, "second chance")
        ]


class TestResendRefused:
    def test_a_queued_message_is_a_409_state_conflict(
        self, http: httpx.Client, account: Account
    ) -> None:
        guid = send_sms(http, account, message="x")
        body = refused(
            http.get("/resend/", params={"apikey": account.api_key, "guid": guid}),
            409,
            "state_conflict",
        )
        assert body["status"] == "queued"
        assert sent_row(http, account, guid)["status"] == "queued"

    def test_a_sent_message_is_a_409_and_stays_sent(
        self, server: LiveServer, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        guid = send_sms(http, account, message="x")
        report_sent(server, device_of(server, phone), guid)
        body = refused(
            http.post("/resend/", data={"apikey": account.api_key, "guid": guid}),
            409,
            "state_conflict",
        )
        assert body["status"] == "sent"
        assert sent_row(http, account, guid)["status"] == "sent"

    def test_whatsapp_without_a_whatsapp_phone_cannot_be_resent(
        self, http: httpx.Client, account: Account, phone: PairedDevice
    ) -> None:
        guid = send_sms(http, account, message="x", waonly="yes")
        assert sent_row(http, account, guid)["status"] == "failed"
        body = refused(
            http.get("/resend/", params={"apikey": account.api_key, "guid": guid}),
            409,
            "state_conflict",
        )
        assert "WhatsApp" in body["message"]
        logged = sent_row(http, account, guid)
        assert logged["status"] == "failed"
        assert logged["error_api"] != ""

    def test_an_unknown_guid_is_a_404(self, http: httpx.Client, account: Account) -> None:
        response = http.get("/resend/", params={"apikey": account.api_key, "guid": "a" * 40})
        refused(response, 404, "not_found")

    def test_another_accounts_failed_message_is_a_404_and_stays_failed(
        self, server: LiveServer, http: httpx.Client, account: Account, failed: str
    ) -> None:
        guid = failed
        stranger = server.create_account()
        foreign = http.get("/resend/", params={"apikey": stranger.api_key, "guid": guid})
        unknown = http.get("/resend/", params={"apikey": stranger.api_key, "guid": "b" * 40})
        assert (
            refused(foreign, 404, "not_found").keys() == refused(unknown, 404, "not_found").keys()
        )
        assert sent_row(http, account, guid)["status"] == "failed"

    @pytest.mark.parametrize("value", [None, "", "  "])
    def test_a_missing_guid_is_a_400(
        self, http: httpx.Client, account: Account, value: str | None
    ) -> None:
        params = {"apikey": account.api_key}
        if value is not None:
            params["guid"] = value
        body = refused(http.get("/resend/", params=params), 400, "missing_parameter")
        assert body["parameter"] == "guid"

    @pytest.mark.parametrize("value", ["123", "g" * 40, "a" * 41, "a" * 39 + "!", "12.5"])
    def test_a_value_that_cannot_be_a_guid_is_a_400(
        self, http: httpx.Client, account: Account, failed: str, value: str
    ) -> None:
        response = http.get("/resend/", params={"apikey": account.api_key, "guid": value})
        assert refused(response, 400, "invalid_parameter")["parameter"] == "guid"
        assert sent_row(http, account, failed)["status"] == "failed"

    def test_without_a_valid_api_key_nothing_is_resent(
        self, http: httpx.Client, account: Account, failed: str
    ) -> None:
        refused(http.get("/resend/", params={"guid": failed}), 400, "missing_apikey")
        refused(
            http.get("/resend/", params={"guid": failed, "apikey": "z" * 40}),
            403,
            "invalid_apikey",
        )
        assert sent_row(http, account, failed)["status"] == "failed"


class TestOnEachEngine:
    def test_resend_moves_only_a_failed_message(
        self, shared_servers: Callable[..., LiveServer], engine: str
    ) -> None:
        server = shared_servers(engine=engine)
        account = server.create_account()
        phone = server.add_device(account)
        with server.client() as http:
            guid = send_sms(http, account, message="x")
            fail(server, phone, guid)
            params = {"apikey": account.api_key, "guid": guid}
            assert http.get("/resend/", params=params).json()["status"] == "queued"
            refused(http.get("/resend/", params=params), 409, "state_conflict")
            assert sent_row(http, account, guid)["status"] == "queued"
