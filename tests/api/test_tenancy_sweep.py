"""No account can reach another's messages, received SMS, aliases or devices, on any endpoint.

One sweep over every endpoint that takes a GUID or a SID: account B uses account A's real
identifiers and gets the same 404 as for identifiers that exist nowhere, and A's data is
unchanged afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests.contract import validate
from tests.support.api import device_of, receive, send_sms
from tests.support.server import Account, LiveServer


@dataclass
class World:
    owner: Account
    intruder: Account
    sent_guid: str
    received_guid: str
    sid: str


@pytest.fixture
def world(server: LiveServer) -> World:
    owner = server.create_account()  # fresh e-mails: the module's tests share the server
    intruder = server.create_account()
    paired = server.add_device(owner, "owner phone")
    with server.client() as http:
        sent = send_sms(http, owner, message="mine")
    received = receive(server, device_of(server, paired), "+32470999999", "private", at_ms=1)
    return World(owner, intruder, sent, received, paired.sid)


def probes(world: World) -> list[tuple[str, dict[str, str]]]:
    return [
        ("/resend/", {"guid": world.sent_guid}),
        ("/cancel/", {"guid": world.sent_guid}),
        ("/deletesms/", {"guid_message": world.sent_guid}),
        ("/deletesms/", {"guid_message": world.received_guid}),
        ("/log/sent/sms/", {"before": world.sent_guid}),
        ("/getsms/set-read/", {"guid_message": world.received_guid}),
        ("/getsms/update/", {"guid": world.received_guid, "alias": "stolen"}),
        ("/getsms/", {"sIdentifiantPhone": world.sid}),
        ("/log/sent/frommobile/", {"sIdentifiant": world.sid}),
        ("/gateway/mobile/update/", {"sid": world.sid, "label": "stolen"}),
        ("/gateway/mobile/delete/", {"sid": world.sid}),
        ("/sendsms/", {"recipients": "+32470123456", "message": "x", "sIdentifiant": world.sid}),
    ]


def unknown(params: dict[str, str]) -> dict[str, str]:
    """The same request with identifiers that exist in no account."""
    replaced = dict(params)
    for key in ("guid", "guid_message", "before"):
        if key in replaced:
            replaced[key] = "0" * 40
    for key in ("sid", "sIdentifiant", "sIdentifiantPhone"):
        if key in replaced:
            replaced[key] = "0" * 16
    return replaced


class TestForeignIdentifiers:
    def test_every_endpoint_answers_404_exactly_as_for_an_unknown_identifier(
        self, http: httpx.Client, world: World
    ) -> None:
        for path, params in probes(world):
            foreign = http.post(path, data={"apikey": world.intruder.api_key, **params})
            nowhere = http.post(path, data={"apikey": world.intruder.api_key, **unknown(params)})
            assert foreign.status_code == 404, (path, foreign.text)
            validate(foreign.json(), "simgate.Error")
            assert foreign.json()["error"] == "not_found"
            assert nowhere.status_code == 404, (path, nowhere.text)
            # The answer must not tell "exists elsewhere" from "does not exist".
            assert set(foreign.json()) == set(nowhere.json()), path

    def test_the_owners_data_is_untouched_after_the_sweep(
        self, http: httpx.Client, world: World
    ) -> None:
        for path, params in probes(world):
            http.post(path, data={"apikey": world.intruder.api_key, **params})
        owner = {"apikey": world.owner.api_key}
        log = http.get("/log/sent/sms/", params=owner).json()["result"]["sms"]
        assert [row["guid"] for row in log] == [world.sent_guid]
        assert log[0]["status"] in {"queued", "dispatched"}
        [received] = http.get("/getsms/", params=owner).json()["result"]["sms"]
        assert received["guid"] == world.received_guid
        assert received["read"] == 0
        assert received["alias"] is None
        [device] = http.get("/gateway/mobile/list/", params=owner).json()["items"]
        assert device["label"] == "owner phone"

    def test_lists_show_the_intruder_nothing_of_the_owner(
        self, http: httpx.Client, world: World
    ) -> None:
        mine = {"apikey": world.intruder.api_key}
        assert http.get("/log/sent/sms/", params=mine).json()["result"]["sms"] == []
        logged = http.get("/log/sent/sms/", params={**mine, "guid_message": world.sent_guid}).json()
        assert logged["result"] == {"error": "no_result", "sms": []}
        assert http.get("/getsms/", params=mine).json()["result"]["sms"] == []
        assert http.get("/gateway/mobile/list/", params=mine).json()["items"] == []
        assert (
            http.get("/gateway/mobile/list/", params={**mine, "sid": world.sid}).json()["items"]
            == []
        )
        conversations = http.get(
            "/conversation/sms/list/", params={**mine, "origineConversation": "received"}
        ).json()
        assert conversations["conversations"] == []
        assert http.get("/log/sent/frommobile/", params=mine).json()["data"] == []


class TestOpenApi:
    def test_every_compatible_endpoint_is_documented_with_its_parameters(
        self, http: httpx.Client
    ) -> None:
        document = http.get("/openapi.json").json()
        paths = document["paths"]
        expected = {
            "/sendsms/": {
                "recipients",
                "message",
                "port",
                "shorturl",
                "sIdentifiant",
                "sendwa",
                "sendsms",
                "waonly",
                "encrypt_message",
                "schedule_timestamp",
                "ttl",
            },
            "/resend/": {"guid", "ttl"},
            "/cancel/": {"guid"},
            "/log/sent/sms/": {"guid_message", "before", "error_api", "error_mobile", "keyword"},
            "/log/sent/frommobile/": {
                "date",
                "date_from",
                "date_to",
                "period",
                "number",
                "sIdentifiant",
                "message",
                "search",
                "sort_by",
                "sort_order",
                "limit",
            },
            "/getsms/": {"sIdentifiantPhone", "after_timestamp_unix", "onlyunread"},
            "/getsms/set-read/": {"guid_message"},
            "/getsms/update/": {"guid", "alias"},
            "/deletesms/": {"guid_message", "date_start", "date_end"},
            "/conversation/sms/list/": {
                "origineConversation",
                "numero",
                "date_from",
                "date_to",
                "sort",
                "limit",
                "resume",
                "resume_line_how",
            },
            "/gateway/mobile/list/": {"sid", "search"},
            "/gateway/mobile/update/": {"sid", "label", "phone_number"},
            "/gateway/mobile/delete/": {"sid"},
        }
        for path, names in expected.items():
            assert set(paths[path]) >= {"get", "post"}, path
            documented = {p["name"] for p in paths[path]["get"].get("parameters", [])}
            assert names | {"apikey"} <= documented, (path, names - documented)
            form = paths[path]["post"]["requestBody"]["content"]
            assert set(form["application/x-www-form-urlencoded"]["schema"]["properties"]) >= names

    def test_the_document_is_browsable(self, http: httpx.Client) -> None:
        page = http.get("/docs")
        assert page.status_code == 200
        assert "/openapi.json" in page.text
