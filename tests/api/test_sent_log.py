"""``/log/sent/sms/``: filters, paging that never skips or repeats, and tenant isolation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.contract import validate
from tests.support.api import NUMBER, device_of, refused, report_failed
from tests.support.server import Account, LiveServer

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def numbers(count: int, start: int = 0) -> str:
    return ",".join(f"+32470{100000 + start + index}" for index in range(count))


def send(http: httpx.Client, account: Account, **params: str) -> list[str]:
    params.setdefault("recipients", NUMBER)
    params.setdefault("message", "hello")
    response = http.post("/sendsms/", data={"apikey": account.api_key, **params})
    assert response.status_code == 200, response.text
    return response.json()["result"]["ids"]  # type: ignore[no-any-return]


def get_log(http: httpx.Client, account: Account, **params: str) -> dict[str, Any]:
    response = http.get("/log/sent/sms/", params={"apikey": account.api_key, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    validate(body, "simgate.SentLog")
    return body["result"]  # type: ignore[no-any-return]


def guids(http: httpx.Client, account: Account, **params: str) -> list[str]:
    return [item["guid"] for item in get_log(http, account, **params)["sms"]]


class TestRows:
    def test_rows_come_newest_first_with_every_documented_field(
        self, http: httpx.Client, account: Account
    ) -> None:
        first = send(http, account, message="one")
        second = send(http, account, message="two", port="2", schedule_timestamp="1000")
        result = get_log(http, account)
        assert result["error"] == ""
        assert [item["guid"] for item in result["sms"]] == second + first
        newest = result["sms"][0]
        assert newest["message"] == "two"
        assert newest["recipients"] == NUMBER
        assert newest["port"] == 2
        assert newest["schedule_timestamp"] == 1000
        assert newest["retries"] == 0
        assert (newest["parts"], newest["encoding"]) == (1, "GSM-7")
        assert (newest["error_api"], newest["send_from_mobile_erreur"]) == ("", "")
        assert newest["shorturl_clicks"] == 0

    def test_an_empty_log_answers_no_result_with_http_200(
        self, http: httpx.Client, account: Account
    ) -> None:
        assert get_log(http, account) == {"error": "no_result", "sms": []}

    def test_the_log_answers_get_and_post_with_and_without_slash(
        self, http: httpx.Client, account: Account
    ) -> None:
        guid = send(http, account)
        for method in ("GET", "POST"):
            for path in ("/log/sent/sms", "/log/sent/sms/"):
                response = http.request(method, path, params={"apikey": account.api_key})
                assert [item["guid"] for item in response.json()["result"]["sms"]] == guid


class TestFilters:
    def test_guid_message_selects_one_message(self, http: httpx.Client, account: Account) -> None:
        [wanted] = send(http, account, message="wanted")
        send(http, account, message="other")
        assert guids(http, account, guid_message=wanted) == [wanted]
        assert guids(http, account, guid_message=wanted.upper()) == [wanted]

    def test_an_unknown_guid_message_is_no_result(
        self, http: httpx.Client, account: Account
    ) -> None:
        send(http, account)
        assert get_log(http, account, guid_message="c" * 40) == {"error": "no_result", "sms": []}

    @pytest.mark.parametrize(
        ("keyword", "expected"),
        [
            ("DINNER", ["dinner at 8"]),  # case-insensitive
            ("ner at", ["dinner at 8"]),
            ("4701", ["lunch"]),  # part of the number
            ("100%", ["100% sure"]),  # % matches itself, not anything
            ("a_b", ["a_b"]),  # so does _
        ],
    )
    def test_keyword_searches_number_and_text(
        self, http: httpx.Client, account: Account, keyword: str, expected: list[str]
    ) -> None:
        send(http, account, message="dinner at 8", recipients="+32499999999")
        send(http, account, message="lunch", recipients="+32470100000")
        send(http, account, message="100% sure", recipients="+32499999998")
        send(http, account, message="a_b", recipients="+32499999997")
        send(http, account, message="axb 1000 sure", recipients="+32499999996")
        found = [item["message"] for item in get_log(http, account, keyword=keyword)["sms"]]
        assert found == expected

    def test_a_keyword_that_matches_nothing_is_no_result(
        self, http: httpx.Client, account: Account
    ) -> None:
        send(http, account, message="hello")
        assert get_log(http, account, keyword="absent") == {"error": "no_result", "sms": []}

    def test_error_filters_list_only_failed_rows(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        phone = server.add_device(account)
        [fine] = send(http, account)
        [refused_by_api] = send(http, account, sendwa="1")  # no WhatsApp phone: fails at once
        [refused_by_phone] = send(http, account)
        report_failed(server, device_of(server, phone), refused_by_phone, "SIM blocked")
        assert guids(http, account, error_api="1") == [refused_by_api]
        assert guids(http, account, error_mobile="1") == [refused_by_phone]
        assert guids(http, account, error_api="0", error_mobile="0") == [
            refused_by_phone,
            refused_by_api,
            fine,
        ]
        both = get_log(http, account, error_api="1", error_mobile="1")
        assert both == {"error": "no_result", "sms": []}

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("guid_message", "xyz"),
            ("guid_message", "g" * 40),
            ("error_api", "yes"),
            ("error_api", "2"),
            ("error_mobile", "true"),
            ("error_mobile", "-1"),
            ("limit", "0"),
            ("limit", "501"),
            ("limit", "-3"),
            ("limit", "ten"),
            ("limit", "1.5"),
            ("before", "yesterday"),
            ("before", "-1"),
            ("before", "1.5"),
            ("before", "a" * 39),
            ("before", "4102444801"),  # beyond 2100: milliseconds by mistake
        ],
    )
    def test_an_undocumented_value_is_a_400(
        self, http: httpx.Client, account: Account, name: str, value: str
    ) -> None:
        send(http, account)
        response = http.get("/log/sent/sms/", params={"apikey": account.api_key, name: value})
        assert refused(response, 400, "invalid_parameter")["parameter"] == name

    @pytest.mark.parametrize("name", ["guid_message", "keyword", "before", "limit", "error_api"])
    def test_an_empty_filter_counts_as_absent(
        self, http: httpx.Client, account: Account, name: str
    ) -> None:
        sent = send(http, account)
        assert guids(http, account, **{name: ""}) == sent


class TestPaging:
    def test_paging_by_guid_visits_each_of_250_messages_exactly_once(
        self, shared_servers: Callable[..., LiveServer], engine: str
    ) -> None:
        server = shared_servers(engine=engine)
        account = server.create_account()
        with server.client() as http:
            sent = send(http, account, recipients=numbers(250))
            seen: list[str] = []
            page = guids(http, account, limit="100")
            while page:
                seen += page
                page = guids(http, account, limit="100", before=page[-1])
        assert len(seen) == 250
        assert seen == list(reversed(sent))

    def test_messages_sent_between_pages_neither_skip_nor_repeat_a_row(
        self, http: httpx.Client, account: Account
    ) -> None:
        sent = send(http, account, recipients=numbers(250))
        seen: list[str] = []
        late: list[str] = []
        page = guids(http, account, limit="60")
        while page:
            seen += page
            late += send(http, account, recipients=numbers(3, start=500 + len(late)))
            page = guids(http, account, limit="60", before=page[-1])
        assert sorted(seen) == sorted(sent)
        assert len(seen) == len(set(seen)) == 250
        assert guids(http, account, limit="500")[: len(late)] == list(reversed(late))

    def test_before_a_unix_timestamp_lists_older_messages(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        server.ctx.clock = lambda: T0
        old = send(http, account, message="old")
        server.ctx.clock = lambda: T0 + 60_000
        new = send(http, account, message="new")
        assert guids(http, account, before=str((T0 + 60_000) // 1000)) == old
        assert guids(http, account, before=str((T0 + 61_000) // 1000)) == new + old
        assert get_log(http, account, before=str(T0 // 1000)) == {"error": "no_result", "sms": []}

    def test_limit_caps_the_page_and_defaults_to_100(
        self, http: httpx.Client, account: Account
    ) -> None:
        send(http, account, recipients=numbers(120))
        assert len(guids(http, account)) == 100
        assert len(guids(http, account, limit="1")) == 1
        assert len(guids(http, account, limit="500")) == 120

    def test_an_unknown_before_guid_is_a_404(self, http: httpx.Client, account: Account) -> None:
        send(http, account)
        response = http.get(
            "/log/sent/sms/", params={"apikey": account.api_key, "before": "d" * 40}
        )
        refused(response, 404, "not_found")


class TestIsolation:
    def test_another_account_sees_none_of_the_rows(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        [mine] = send(http, account, message="private")
        stranger = server.create_account()
        assert get_log(http, stranger) == {"error": "no_result", "sms": []}
        assert get_log(http, stranger, guid_message=mine) == {"error": "no_result", "sms": []}
        assert get_log(http, stranger, keyword="private") == {"error": "no_result", "sms": []}

    def test_another_accounts_guid_as_before_is_a_404_like_an_unknown_one(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        [mine] = send(http, account)
        stranger = server.create_account()
        send(http, stranger)
        foreign = http.get("/log/sent/sms/", params={"apikey": stranger.api_key, "before": mine})
        unknown = http.get(
            "/log/sent/sms/", params={"apikey": stranger.api_key, "before": "e" * 40}
        )
        assert (
            refused(foreign, 404, "not_found").keys() == refused(unknown, 404, "not_found").keys()
        )

    def test_without_a_valid_api_key_nothing_is_listed(self, http: httpx.Client) -> None:
        refused(http.get("/log/sent/sms/"), 400, "missing_apikey")
        refused(http.get("/log/sent/sms/", params={"apikey": "k" * 40}), 403, "invalid_apikey")
