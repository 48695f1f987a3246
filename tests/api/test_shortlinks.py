"""Short links: ``shorturl=1`` rewrites URLs to ``/s/<code>``, which redirects and counts clicks."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.contract import validate
from tests.support.api import NUMBER, sent_row
from tests.support.server import Account, LiveServer

OTHER = "+32470123457"
CODE = r"[A-Za-z0-9]{8,}"


def send(http: httpx.Client, account: Account, message: str, **params: str) -> dict[str, Any]:
    response = http.get(
        "/sendsms/",
        params={
            "apikey": account.api_key,
            "recipients": NUMBER,
            "message": message,
            "shorturl": "1",
            **params,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["result"]  # type: ignore[no-any-return]


def short_links(server: LiveServer, text: str) -> list[str]:
    return re.findall(re.escape(server.url) + "/s/" + CODE, text)


class TestRewriting:
    def test_every_url_in_the_text_becomes_a_short_link(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        text = "Order https://shop.example.com/o/123?x=1&y=2 or track http://t.example.org/p"
        result = send(http, account, text)
        sms = sent_row(http, account, result["id"])["message"]
        links = short_links(server, sms)
        assert len(set(links)) == 2
        assert sms == f"Order {links[0]} or track {links[1]}"
        targets = [http.get(link).headers["location"] for link in links]
        assert targets == ["https://shop.example.com/o/123?x=1&y=2", "http://t.example.org/p"]

    def test_punctuation_around_a_url_stays_in_the_sentence(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        text = "Read (https://example.com/faq), then https://en.example.org/wiki/A_(b)."
        sms = sent_row(http, account, send(http, account, text)["id"])["message"]
        first, second = short_links(server, sms)
        assert sms == f"Read ({first}), then {second}."
        assert http.get(first).headers["location"] == "https://example.com/faq"
        assert http.get(second).headers["location"] == "https://en.example.org/wiki/A_(b)"

    def test_each_recipient_gets_their_own_codes(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        result = send(http, account, "Hi https://example.com", recipients=f"{NUMBER},{OTHER}")
        codes = [short_links(server, sent_row(http, account, g)["message"]) for g in result["ids"]]
        assert len({link for links in codes for link in links}) == 2

    def test_a_text_without_urls_is_unchanged(self, http: httpx.Client, account: Account) -> None:
        text = "No links here, just example.com and ftp://old.example.com"
        assert sent_row(http, account, send(http, account, text)["id"])["message"] == text

    def test_the_parts_are_counted_on_the_text_the_radio_sends(
        self, http: httpx.Client, account: Account
    ) -> None:
        url = "https://example.com/" + "long-path-segment/" * 15
        text = f"Your invoice: {url}"
        assert len(text) > 160
        result = send(http, account, text)
        row = sent_row(http, account, result["id"])
        assert (result["parts"], row["parts"], row["encoding"]) == (1, 1, "GSM-7")
        assert len(row["message"]) <= 160
        unshortened = send(http, account, text, shorturl="0")
        assert unshortened["parts"] == 2

    def test_a_rewritten_text_may_fit_where_the_original_would_be_refused(
        self, http: httpx.Client, account: Account
    ) -> None:
        text = "Files: " + " ".join(f"https://example.com/{'x' * 300}/{n}" for n in range(14))
        assert len(text) > 4200
        result = send(http, account, text)
        assert result["parts"] <= 5

    def test_a_text_that_grows_past_30_parts_when_rewritten_is_refused(
        self, http: httpx.Client, account: Account
    ) -> None:
        text = " ".join(["https://a.be"] * 350)  # 4549 characters, 30 parts as written
        response = http.get(
            "/sendsms/",
            params={
                "apikey": account.api_key,
                "recipients": NUMBER,
                "message": text,
                "shorturl": "1",
            },
        )
        assert response.status_code == 400
        body = response.json()
        validate(body, "simgate.SendError")
        assert (body["error"], body["parameter"]) == ("invalid_parameter", "message")
        log = http.get("/log/sent/sms/", params={"apikey": account.api_key}).json()
        assert log["result"]["sms"] == []


class TestFollowing:
    def test_a_click_redirects_with_302_and_is_counted_in_the_log(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        result = send(http, account, "Menu: https://example.com/menu")
        [link] = short_links(server, sent_row(http, account, result["id"])["message"])
        assert sent_row(http, account, result["id"])["shorturl_clicks"] == 0
        for clicks in (1, 2, 3):
            response = http.get(link)
            assert response.status_code == 302
            assert response.headers["location"] == "https://example.com/menu"
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert sent_row(http, account, result["id"])["shorturl_clicks"] == clicks

    def test_clicks_of_all_links_of_a_message_add_up(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        result = send(http, account, "https://a.example.com https://b.example.com")
        first, second = short_links(server, sent_row(http, account, result["id"])["message"])
        http.get(first)
        http.get(second)
        http.get(second)
        assert sent_row(http, account, result["id"])["shorturl_clicks"] == 3

    def test_other_messages_do_not_share_clicks(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        clicked = send(http, account, "https://example.com")
        other = send(http, account, "https://example.com")
        [link] = short_links(server, sent_row(http, account, clicked["id"])["message"])
        http.get(link)
        assert sent_row(http, account, other["id"])["shorturl_clicks"] == 0

    @pytest.mark.parametrize("code", ["AAAAAAAA", "abc", "bad-code!", "A" * 40, "%2e%2e"])
    def test_an_unknown_or_malformed_code_is_a_404(self, http: httpx.Client, code: str) -> None:
        response = http.get(f"/s/{code}")
        assert response.status_code == 404
        body = response.json()
        validate(body, "simgate.Error")
        validate(body, "official.ErrorResponse")
        assert body["error"] == "not_found"

    def test_following_a_link_needs_no_api_key_but_changes_nothing_else(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        result = send(http, account, "https://example.com/x")
        [link] = short_links(server, sent_row(http, account, result["id"])["message"])
        with httpx.Client(timeout=10) as stranger:
            assert stranger.get(link).status_code == 302
        row = sent_row(http, account, result["id"])
        assert (row["status"], row["shorturl_clicks"]) == ("queued", 1)


class TestOnEachEngine:
    def test_simultaneous_clicks_are_all_counted(
        self, shared_servers: Callable[..., LiveServer], engine: str
    ) -> None:
        server = shared_servers(engine=engine)
        account = server.create_account()
        with server.client() as http:
            result = send(http, account, "Tickets: https://example.com/t", recipients=NUMBER)
            [link] = short_links(server, sent_row(http, account, result["id"])["message"])
            with ThreadPoolExecutor(max_workers=8) as pool:
                codes = list(pool.map(lambda _: http.get(link).status_code, range(24)))
            assert codes == [302] * 24
            assert sent_row(http, account, result["id"])["shorturl_clicks"] == 24
