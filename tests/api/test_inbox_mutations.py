"""``/getsms/set-read/`` and ``/getsms/update/``: the marks an account puts on received SMS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from simgate.services import inbox
from simgate.services.devices import Device
from tests.contract import validate
from tests.support import api
from tests.support.api import T0, device_of, mutation, refused
from tests.support.server import Account, LiveServer

UNKNOWN_GUID = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def guid(server: LiveServer, device: Device) -> str:
    """One received SMS, unread and without an alias."""
    return receive(server, device)


@pytest.fixture
def named(server: LiveServer, account: Account, guid: str) -> str:
    """The same SMS with the alias "Before"."""
    server.call(inbox.set_alias(server.ctx, account.id, guid, "Before"))
    return guid


def receive(server: LiveServer, device: Device, text: str = "hello", at_ms: int = T0) -> str:
    return api.receive(server, device, "+32470000001", text, at_ms)


def inbox_of(http: httpx.Client, account: Account) -> dict[str, dict[str, Any]]:
    """The account's received SMS by GUID, as ``/getsms/`` lists them."""
    body = http.get("/getsms/", params={"apikey": account.api_key}).json()
    validate(body, "simgate.ReceivedSms")
    return {sms["guid"]: sms for sms in body["result"]["sms"]}


class TestSetRead:
    def test_marks_only_that_sms_as_read(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device, "first")
        other = receive(server, device, "second")
        response = http.get(
            "/getsms/set-read/", params={"apikey": account.api_key, "guid_message": guid}
        )
        assert mutation(response) == {"success": True, "guid": guid, "read": 1}
        rows = inbox_of(http, account)
        assert rows[guid]["read"] == 1
        assert rows[other]["read"] == 0

    def test_marking_twice_is_harmless(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device)
        for _ in range(2):
            response = http.get(
                "/getsms/set-read/", params={"apikey": account.api_key, "guid_message": guid}
            )
            assert mutation(response)["read"] == 1

    def test_an_upper_case_guid_is_understood(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device)
        response = http.get(
            "/getsms/set-read/", params={"apikey": account.api_key, "guid_message": guid.upper()}
        )
        assert mutation(response)["guid"] == guid

    @pytest.mark.parametrize("path", ["/getsms/set-read", "/getsms/set-read/"])
    def test_a_post_form_works_on_either_path(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device, path: str
    ) -> None:
        guid = receive(server, device)
        response = http.post(path, data={"apikey": account.api_key, "guid_message": guid})
        assert mutation(response)["read"] == 1

    def test_the_alias_is_left_alone(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device)
        server.call(inbox.set_alias(server.ctx, account.id, guid, "John"))
        http.get("/getsms/set-read/", params={"apikey": account.api_key, "guid_message": guid})
        assert inbox_of(http, account)[guid]["alias"] == "John"

    @pytest.mark.parametrize(
        ("params", "code"),
        [
            ({}, "missing_parameter"),
            ({"guid_message": ""}, "missing_parameter"),
            ({"guid_message": "  "}, "missing_parameter"),
            ({"guid_message": "abc"}, "invalid_parameter"),
            ({"guid_message": "g" * 40}, "invalid_parameter"),
            ({"guid_message": UNKNOWN_GUID + "0"}, "invalid_parameter"),
        ],
    )
    def test_a_missing_or_malformed_guid_is_refused_and_nothing_changes(
        self, http: httpx.Client, account: Account, guid: str, params: dict[str, str], code: str
    ) -> None:
        response = http.get("/getsms/set-read/", params={"apikey": account.api_key, **params})
        refused(response, 400, code, "guid_message")
        assert inbox_of(http, account)[guid]["read"] == 0

    def test_an_unknown_guid_is_not_found(self, http: httpx.Client, account: Account) -> None:
        response = http.get(
            "/getsms/set-read/", params={"apikey": account.api_key, "guid_message": UNKNOWN_GUID}
        )
        refused(response, 404, "not_found")

    def test_the_guid_of_a_sent_message_is_not_a_received_sms(
        self, http: httpx.Client, account: Account
    ) -> None:
        sent = http.get(
            "/sendsms/",
            params={"apikey": account.api_key, "recipients": "+32470000001", "message": "hi"},
        ).json()["result"]["id"]
        response = http.get(
            "/getsms/set-read/", params={"apikey": account.api_key, "guid_message": sent}
        )
        refused(response, 404, "not_found")

    def test_another_account_gets_not_found_and_changes_nothing(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device)
        intruder = server.create_account()
        response = http.get(
            "/getsms/set-read/", params={"apikey": intruder.api_key, "guid_message": guid}
        )
        refused(response, 404, "not_found")
        unknown = http.get(
            "/getsms/set-read/",
            params={"apikey": intruder.api_key, "guid_message": UNKNOWN_GUID},
        )
        assert response.json()["message"].replace(guid, UNKNOWN_GUID) == unknown.json()["message"]
        assert inbox_of(http, account)[guid]["read"] == 0


class TestUpdateAlias:
    def test_sets_the_alias_of_that_sms(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device)
        other = receive(server, device)
        response = http.get(
            "/getsms/update/",
            params={"apikey": account.api_key, "guid": guid, "alias": "John Doe"},
        )
        assert mutation(response) == {"success": True, "guid": guid, "alias": "John Doe"}
        rows = inbox_of(http, account)
        assert rows[guid]["alias"] == "John Doe"
        assert rows[other]["alias"] is None

    def test_surrounding_spaces_are_dropped(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device)
        response = http.post(
            "/getsms/update", data={"apikey": account.api_key, "guid": guid, "alias": "  Ann  "}
        )
        assert mutation(response)["alias"] == "Ann"

    @pytest.mark.parametrize("empty", ["", "   "])
    def test_an_empty_alias_clears_it(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device, empty: str
    ) -> None:
        guid = receive(server, device)
        server.call(inbox.set_alias(server.ctx, account.id, guid, "John"))
        response = http.get(
            "/getsms/update/", params={"apikey": account.api_key, "guid": guid, "alias": empty}
        )
        assert mutation(response) == {"success": True, "guid": guid, "alias": None}
        assert inbox_of(http, account)[guid]["alias"] is None

    def test_an_empty_alias_in_a_form_body_clears_it(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device)
        server.call(inbox.set_alias(server.ctx, account.id, guid, "John"))
        response = http.post(
            "/getsms/update/", data={"apikey": account.api_key, "guid": guid, "alias": ""}
        )
        assert mutation(response)["alias"] is None

    def test_an_empty_alias_in_a_json_body_clears_it(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device)
        server.call(inbox.set_alias(server.ctx, account.id, guid, "John"))
        response = http.post(
            "/getsms/update/", json={"apikey": account.api_key, "guid": guid, "alias": ""}
        )
        assert mutation(response)["alias"] is None

    def test_the_read_status_is_left_alone(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device)
        server.call(inbox.mark_read(server.ctx, account.id, guid))
        http.get("/getsms/update/", params={"apikey": account.api_key, "guid": guid, "alias": "J"})
        assert inbox_of(http, account)[guid]["read"] == 1

    @pytest.mark.parametrize(
        ("params", "failure"),
        [
            ({"guid": "$GUID"}, ("missing_parameter", "alias")),
            ({"alias": "John"}, ("missing_parameter", "guid")),
            ({"guid": "", "alias": "John"}, ("missing_parameter", "guid")),
            ({"guid": "not-a-guid", "alias": "John"}, ("invalid_parameter", "guid")),
            ({"guid": "$GUID", "alias": "x" * 201}, ("invalid_parameter", "alias")),
        ],
    )
    def test_a_missing_or_bad_parameter_is_refused_and_nothing_changes(
        self,
        http: httpx.Client,
        account: Account,
        named: str,
        params: dict[str, str],
        failure: tuple[str, str],
    ) -> None:
        guid = named
        code, parameter = failure
        sent = {name: value.replace("$GUID", guid) for name, value in params.items()}
        response = http.get("/getsms/update/", params={"apikey": account.api_key, **sent})
        refused(response, 400, code, parameter)
        assert inbox_of(http, account)[guid]["alias"] == "Before"

    def test_an_alias_of_200_characters_is_accepted(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device)
        response = http.get(
            "/getsms/update/", params={"apikey": account.api_key, "guid": guid, "alias": "é" * 200}
        )
        assert mutation(response)["alias"] == "é" * 200

    def test_an_unknown_guid_is_not_found(self, http: httpx.Client, account: Account) -> None:
        response = http.get(
            "/getsms/update/",
            params={"apikey": account.api_key, "guid": UNKNOWN_GUID, "alias": "John"},
        )
        refused(response, 404, "not_found")

    def test_another_account_gets_not_found_and_changes_nothing(
        self, server: LiveServer, http: httpx.Client, account: Account, device: Device
    ) -> None:
        guid = receive(server, device)
        server.call(inbox.set_alias(server.ctx, account.id, guid, "Mine"))
        intruder = server.create_account()
        for alias in ("Stolen", ""):
            response = http.get(
                "/getsms/update/",
                params={"apikey": intruder.api_key, "guid": guid, "alias": alias},
            )
            refused(response, 404, "not_found")
        assert inbox_of(http, account)[guid]["alias"] == "Mine"


class TestEngines:
    def test_marks_work_on_sqlite_and_postgresql(
        self, shared_servers: Callable[..., LiveServer], engine: str
    ) -> None:
        server = shared_servers(engine=engine)
        account = server.create_account()
        paired = server.add_device(account)
        device = device_of(server, paired)
        guid = receive(server, device)
        intruder = server.create_account()
        with server.client() as http:
            key = account.api_key
            read = http.get("/getsms/set-read/", params={"apikey": key, "guid_message": guid})
            assert mutation(read)["read"] == 1
            named = http.get("/getsms/update/", params={"apikey": key, "guid": guid, "alias": "A"})
            assert mutation(named)["alias"] == "A"
            stolen = http.get(
                "/getsms/update/", params={"apikey": intruder.api_key, "guid": guid, "alias": ""}
            )
            refused(stolen, 404, "not_found")
            assert (
                inbox_of(http, account)[guid] | {"read": 1, "alias": "A"}
                == inbox_of(http, account)[guid]
            )
