"""``/deletesms/``: deleting sent and received SMS from the server log, by GUID, day or period."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support import api
from tests.support.api import NUMBER, device_of, mutation, refused
from tests.support.server import Account, LiveServer


def utc_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


# In Europe/Brussels (UTC+1 in March), these fall on the 10th, the 11th (twice) and the 12th.
ON_10TH = utc_ms("2026-03-10T22:30:00")
EARLY_11TH = utc_ms("2026-03-10T23:30:00")
LATE_11TH = utc_ms("2026-03-11T22:59:59")
ON_12TH = utc_ms("2026-03-11T23:00:00")


@pytest.fixture
def server(shared_servers: Callable[..., LiveServer]) -> LiveServer:
    return shared_servers(timezone="Europe/Brussels")


def send(http: httpx.Client, account: Account, **params: str) -> str:
    params = {"recipients": NUMBER, "message": "hello", **params}
    response = http.post("/sendsms/", data={"apikey": account.api_key, **params})
    assert response.status_code == 200, response.text
    return response.json()["result"]["id"]  # type: ignore[no-any-return]


def receive(server: LiveServer, account: Account, text: str = "hi there") -> str:
    """An SMS arrives on a phone of ``account`` and is logged; its GUID."""
    device = device_of(server, server.add_device(account))
    return api.receive(server, device, NUMBER, text, server.ctx.clock())


def at(server: LiveServer, ms: int) -> None:
    server.ctx.clock = lambda: ms


def sent_guids(http: httpx.Client, account: Account) -> set[str]:
    body = http.get("/log/sent/sms/", params={"apikey": account.api_key, "limit": "500"}).json()
    return {item["guid"] for item in body["result"]["sms"]}


def received_guids(http: httpx.Client, account: Account) -> set[str]:
    body = http.get("/getsms/", params={"apikey": account.api_key}).json()
    return {item["guid"] for item in body["result"]["sms"]}


def delete(http: httpx.Client, account: Account, **params: str) -> dict[str, Any]:
    return mutation(http.get("/deletesms/", params={"apikey": account.api_key, **params}))


@pytest.fixture
def four_days(server: LiveServer, http: httpx.Client, account: Account) -> dict[str, set[str]]:
    """One sent and one received SMS at each of the four moments; GUIDs by day."""
    days: dict[str, set[str]] = {}
    for day, ms in (("10", ON_10TH), ("11", EARLY_11TH), ("11", LATE_11TH), ("12", ON_12TH)):
        at(server, ms)
        days.setdefault(day, set()).update({send(http, account), receive(server, account)})
    return days


class TestDeleteByGuid:
    def test_a_sent_message_leaves_the_log_and_only_it(
        self, http: httpx.Client, account: Account
    ) -> None:
        gone, kept = send(http, account), send(http, account)
        body = delete(http, account, guid_message=gone)
        assert body == {"success": True, "deleted": 1, "deleted_sent": 1, "deleted_received": 0}
        assert sent_guids(http, account) == {kept}

    def test_a_received_sms_leaves_the_inbox(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        gone, kept = receive(server, account), receive(server, account)
        body = delete(http, account, guid_message=gone.upper())
        assert (body["deleted"], body["deleted_received"]) == (1, 1)
        assert received_guids(http, account) == {kept}

    def test_the_short_links_and_sealed_page_of_a_deleted_message_stop_working(
        self, http: httpx.Client, account: Account
    ) -> None:
        linked = http.get(
            "/sendsms/",
            params={
                "apikey": account.api_key,
                "recipients": NUMBER,
                "message": "see https://example.com/x",
                "shorturl": "1",
            },
        ).json()["result"]["id"]
        [row] = http.get(
            "/log/sent/sms/", params={"apikey": account.api_key, "guid_message": linked}
        ).json()["result"]["sms"]
        short = row["message"].split(" ")[-1]
        sealed = http.get(
            "/sendsms/",
            params={
                "apikey": account.api_key,
                "recipients": NUMBER,
                "message": "secret",
                "encrypt_message": "yes",
            },
        ).json()["result"]
        assert http.get(short).status_code == 302
        assert http.get(sealed["encrypted"]["url"] + "/data").status_code == 200
        delete(http, account, guid_message=linked)
        delete(http, account, guid_message=sealed["id"])
        refused(http.get(short), 404, "not_found")
        refused(http.get(sealed["encrypted"]["url"]), 404, "not_found")
        refused(http.get(sealed["encrypted"]["url"] + "/data"), 404, "not_found")

    def test_an_unknown_guid_is_a_404(self, http: httpx.Client, account: Account) -> None:
        kept = send(http, account)
        response = http.get(
            "/deletesms/", params={"apikey": account.api_key, "guid_message": "a" * 40}
        )
        refused(response, 404, "not_found")
        assert sent_guids(http, account) == {kept}

    def test_another_accounts_messages_are_a_404_and_stay(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        sent, received = send(http, account), receive(server, account)
        stranger = server.create_account()
        for guid in (sent, received, "b" * 40):
            response = http.post(
                "/deletesms/", data={"apikey": stranger.api_key, "guid_message": guid}
            )
            refused(response, 404, "not_found")
        assert sent_guids(http, account) == {sent}
        assert received_guids(http, account) == {received}


class TestDeleteByDay:
    def test_one_day_in_the_configured_zone_deletes_sent_and_received_of_that_day(
        self, http: httpx.Client, account: Account, four_days: dict[str, set[str]]
    ) -> None:
        body = delete(http, account, date_start="2026-03-11")
        assert (body["deleted"], body["deleted_sent"], body["deleted_received"]) == (4, 2, 2)
        left = sent_guids(http, account) | received_guids(http, account)
        assert left == four_days["10"] | four_days["12"]

    def test_a_period_includes_its_last_day(
        self, http: httpx.Client, account: Account, four_days: dict[str, set[str]]
    ) -> None:
        body = delete(http, account, date_start="2026-03-10", date_end="2026-03-11")
        assert body["deleted"] == 6
        assert sent_guids(http, account) | received_guids(http, account) == four_days["12"]

    def test_a_period_of_one_day_equals_that_day(
        self, http: httpx.Client, account: Account, four_days: dict[str, set[str]]
    ) -> None:
        body = delete(http, account, date_start="2026-03-12", date_end="2026-03-12")
        assert body["deleted"] == 2
        left = sent_guids(http, account) | received_guids(http, account)
        assert left == four_days["10"] | four_days["11"]

    def test_a_day_without_messages_deletes_nothing(
        self, http: httpx.Client, account: Account, four_days: dict[str, set[str]]
    ) -> None:
        body = delete(http, account, date_start="2026-03-13")
        assert body == {"success": True, "deleted": 0, "deleted_sent": 0, "deleted_received": 0}
        assert len(sent_guids(http, account) | received_guids(http, account)) == 8

    def test_another_accounts_messages_of_that_day_stay(
        self,
        server: LiveServer,
        http: httpx.Client,
        account: Account,
        four_days: dict[str, set[str]],
    ) -> None:
        stranger = server.create_account()
        at(server, EARLY_11TH)
        theirs = {send(http, stranger), receive(server, stranger)}
        delete(http, account, date_start="2026-03-11")
        assert sent_guids(http, stranger) | received_guids(http, stranger) == theirs

    @pytest.mark.parametrize(("method", "path"), [("GET", "/deletesms"), ("POST", "/deletesms/")])
    def test_deletesms_answers_get_and_post_with_and_without_slash(
        self, server: LiveServer, http: httpx.Client, account: Account, method: str, path: str
    ) -> None:
        at(server, EARLY_11TH)
        send(http, account)
        response = http.request(
            method, path, params={"apikey": account.api_key, "date_start": "2026-03-11"}
        )
        assert response.json() == {
            "success": True,
            "deleted": 1,
            "deleted_sent": 1,
            "deleted_received": 0,
        }


class TestRefusals:
    @pytest.fixture(autouse=True)
    def _something_to_lose(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> Iterator[None]:
        at(server, EARLY_11TH)
        kept = {send(http, account), receive(server, account)}
        yield
        assert sent_guids(http, account) | received_guids(http, account) == kept

    @pytest.mark.parametrize("params", [{}, {"date_start": "", "guid_message": " "}])
    def test_without_a_selector_nothing_is_deleted(
        self, http: httpx.Client, account: Account, params: dict[str, str]
    ) -> None:
        response = http.get("/deletesms/", params={"apikey": account.api_key, **params})
        refused(response, 400, "missing_parameter")

    def test_date_end_alone_is_missing_date_start(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.get(
            "/deletesms/", params={"apikey": account.api_key, "date_end": "2026-03-11"}
        )
        assert refused(response, 400, "missing_parameter")["parameter"] == "date_start"

    @pytest.mark.parametrize(
        ("params", "name"),
        [
            ({"date_start": "2026-13-01"}, "date_start"),
            ({"date_start": "2026-02-30"}, "date_start"),
            ({"date_start": "2026/03/11"}, "date_start"),
            ({"date_start": "20260311"}, "date_start"),
            ({"date_start": "11-03-2026"}, "date_start"),
            ({"date_start": "2026-03-11T00:00"}, "date_start"),
            ({"date_start": "yesterday"}, "date_start"),
            ({"date_start": "1969-12-31"}, "date_start"),
            ({"date_start": "9999-12-31"}, "date_start"),
            ({"date_start": "2026-03-11", "date_end": "march"}, "date_end"),
            ({"date_start": "2026-03-11", "date_end": "2026-03-10"}, "date_end"),
            ({"guid_message": "123"}, "guid_message"),
            ({"guid_message": "z" * 40}, "guid_message"),
            ({"guid_message": "a" * 40, "date_start": "2026-03-11"}, "guid_message"),
        ],
    )
    def test_an_unusable_value_is_a_400_and_nothing_is_deleted(
        self, http: httpx.Client, account: Account, params: dict[str, str], name: str
    ) -> None:
        response = http.get("/deletesms/", params={"apikey": account.api_key, **params})
        assert refused(response, 400, "invalid_parameter")["parameter"] == name

    def test_without_a_valid_api_key_nothing_is_deleted(self, http: httpx.Client) -> None:
        refused(http.get("/deletesms/", params={"date_start": "2026-03-11"}), 400, "missing_apikey")
        response = http.get("/deletesms/", params={"apikey": "q" * 40, "date_start": "2026-03-11"})
        refused(response, 403, "invalid_apikey")


class TestOnEachEngine:
    def test_a_day_is_deleted_with_its_links_and_sealed_texts(
        self, shared_servers: Callable[..., LiveServer], engine: str
    ) -> None:
        server = shared_servers(engine=engine, timezone="Europe/Brussels")
        account = server.create_account()
        with server.client() as http:
            at(server, ON_10TH)
            kept = {send(http, account), receive(server, account)}
            at(server, EARLY_11TH)
            short = send(http, account, message="https://example.com/x", shorturl="1")
            sealed = http.post(
                "/sendsms/",
                data={
                    "apikey": account.api_key,
                    "recipients": NUMBER,
                    "message": "secret",
                    "encrypt_message": "yes",
                },
            ).json()["result"]["encrypted"]["url"]
            receive(server, account)
            [row] = http.get(
                "/log/sent/sms/", params={"apikey": account.api_key, "guid_message": short}
            ).json()["result"]["sms"]
            body = delete(http, account, date_start="2026-03-11")
            assert (body["deleted_sent"], body["deleted_received"]) == (2, 1)
            assert sent_guids(http, account) | received_guids(http, account) == kept
            refused(http.get(row["message"]), 404, "not_found")
            refused(http.get(sealed + "/data"), 404, "not_found")
