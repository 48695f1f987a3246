"""One request does a bounded amount of work: search texts, whole numbers and short links are
checked at the door and refused with a clean 400, never a 500 or seconds of database writes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from simgate.api.params import MAX_SEARCH_CHARS
from simgate.services.drafts import MAX_LINKS_PER_MESSAGE, MAX_LINKS_PER_REQUEST
from tests.support.api import NUMBER, accepted, refused, send_refused, sent_log
from tests.support.server import Account, LiveServer

#: 100 KB of LIKE wildcards: SQLite refuses such a pattern ("LIKE or GLOB pattern too complex").
HUGE = "%_" * 50_000


def numbers(count: int) -> str:
    """``count`` distinct valid Belgian mobile numbers, comma-separated."""
    return ",".join(f"+3247{index:07d}" for index in range(count))


def urls(count: int) -> str:
    return " ".join(f"https://example.com/page/{index}" for index in range(count))


class TestSearchTexts:
    @pytest.mark.parametrize(
        ("path", "params"),
        [
            ("/log/sent/sms/", {"keyword": HUGE}),
            ("/log/sent/frommobile/", {"search": HUGE}),
            ("/log/sent/frommobile/", {"message": HUGE}),
            ("/log/sent/frommobile/", {"number": HUGE}),
            ("/conversation/sms/list/", {"origineConversation": "sent", "numero": HUGE}),
        ],
    )
    def test_a_100_kb_search_is_a_400_naming_the_parameter(
        self, http: httpx.Client, account: Account, path: str, params: dict[str, str]
    ) -> None:
        response = http.post(path, data={"apikey": account.api_key, **params})
        [name] = [name for name in params if params[name] is HUGE]
        body = refused(response, 400, "invalid_parameter")
        assert body["parameter"] == name
        assert str(MAX_SEARCH_CHARS) in body["message"]

    def test_a_search_at_the_bound_is_still_searched(
        self, http: httpx.Client, account: Account
    ) -> None:
        accepted(http.get("/sendsms/", params=_send(account, "x" * 10)))
        assert sent_log(http, account, keyword="x" * MAX_SEARCH_CHARS) == []
        assert len(sent_log(http, account, keyword="x" * 10)) == 1


def _send(account: Account, message: str, **params: str) -> dict[str, str]:
    return {"apikey": account.api_key, "recipients": NUMBER, "message": message, **params}


class TestWholeNumbers:
    @pytest.mark.parametrize("value", ["--5", "²", "٣", "+5", "1_000", "9" * 40])
    def test_a_schedule_timestamp_that_is_not_ascii_digits_is_a_400(
        self, http: httpx.Client, account: Account, value: str
    ) -> None:
        response = http.post("/sendsms/", data=_send(account, "hi", schedule_timestamp=value))
        body = send_refused(response, 400, "invalid_parameter")
        assert body["parameter"] == "schedule_timestamp"
        assert sent_log(http, account) == []

    @pytest.mark.parametrize(
        ("path", "name"),
        [
            ("/log/sent/sms/", "limit"),
            ("/log/sent/sms/", "before"),
            ("/getsms/", "after_timestamp_unix"),
            ("/log/sent/frommobile/", "limit"),
        ],
    )
    def test_every_whole_number_parameter_answers_400_to_a_superscript(
        self, http: httpx.Client, account: Account, path: str, name: str
    ) -> None:
        response = http.get(path, params={"apikey": account.api_key, name: "²"})
        assert refused(response, 400, "invalid_parameter")["parameter"] == name


class TestShortLinks:
    def test_more_distinct_links_per_message_than_the_bound_is_a_400_on_shorturl(
        self, http: httpx.Client, account: Account
    ) -> None:
        text = urls(MAX_LINKS_PER_MESSAGE + 1)
        response = http.post("/sendsms/", data=_send(account, text, shorturl="1"))
        body = send_refused(response, 400, "invalid_parameter")
        assert body["parameter"] == "shorturl"
        assert str(MAX_LINKS_PER_MESSAGE) in body["message"]
        assert sent_log(http, account) == []

    def test_the_same_text_without_shorturl_is_sent_unchanged(
        self, http: httpx.Client, account: Account
    ) -> None:
        text = urls(MAX_LINKS_PER_MESSAGE + 1)
        accepted(http.post("/sendsms/", data=_send(account, text)))
        assert sent_log(http, account)[0]["message"] == text

    def test_the_bound_itself_is_shortened(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        text = urls(MAX_LINKS_PER_MESSAGE)
        accepted(http.post("/sendsms/", data=_send(account, text, shorturl="1")))
        [row] = sent_log(http, account)
        links = re.findall(re.escape(server.url) + "/s/", row["message"])
        assert len(links) == MAX_LINKS_PER_MESSAGE
        assert "example.com" not in row["message"]

    def test_a_url_repeated_in_a_message_is_one_link(
        self, server: LiveServer, http: httpx.Client, account: Account
    ) -> None:
        """Repeats count once toward the bound, and share a code (and a click count)."""
        text = " ".join(["https://example.com/menu"] * (MAX_LINKS_PER_MESSAGE + 5))
        accepted(http.post("/sendsms/", data=_send(account, text, shorturl="1")))
        [row] = sent_log(http, account)
        codes = re.findall(re.escape(server.url) + "/s/([A-Za-z0-9]+)", row["message"])
        assert len(codes) == MAX_LINKS_PER_MESSAGE + 5
        assert len(set(codes)) == 1
        follow = http.get(f"/s/{codes[0]}")
        assert follow.status_code == 302
        assert sent_log(http, account)[0]["shorturl_clicks"] == 1

    def test_more_links_in_one_request_than_the_bound_is_a_400_that_stores_nothing(
        self, http: httpx.Client, account: Account
    ) -> None:
        """Just past the bound: already thousands of links written under one lock."""
        recipients = MAX_LINKS_PER_REQUEST // MAX_LINKS_PER_MESSAGE + 1
        params = _send(account, urls(MAX_LINKS_PER_MESSAGE), shorturl="1")
        params["recipients"] = numbers(recipients)
        started = time.monotonic()
        response = http.post("/sendsms/", data=params)
        elapsed = time.monotonic() - started
        body = send_refused(response, 400, "invalid_parameter")
        assert body["parameter"] == "shorturl"
        assert str(MAX_LINKS_PER_REQUEST) in body["message"]
        assert sent_log(http, account) == []
        assert elapsed < 5

    def test_one_link_to_a_thousand_recipients_is_shortened_for_each(
        self, http: httpx.Client, account: Account
    ) -> None:
        params = _send(account, "Menu: https://example.com/menu", shorturl="1")
        params["recipients"] = numbers(1000)
        result = accepted(http.post("/sendsms/", data=params))
        assert len(result["ids"]) == 1000
        rows = sent_log(http, account, limit="500")
        assert len({row["message"] for row in rows}) == 500  # a code of its own for each


class TestMultipartBodies:
    """Multipart forms are parsed from the bytes already counted (no private request state)."""

    def test_a_chunked_multipart_body_over_the_limit_is_a_413(
        self, http: httpx.Client, account: Account
    ) -> None:
        boundary = "simgate-test-boundary"
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="message"\r\n\r\n'.encode()

        def chunks() -> Iterator[bytes]:
            yield head
            for _ in range(3):
                yield b"a" * (1024 * 1024)

        response = http.post(
            f"/sendsms/?apikey={account.api_key}&recipients={NUMBER}",
            content=chunks(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        send_refused(response, 413, "payload_too_large")
        assert sent_log(http, account) == []

    def test_fields_and_files_of_a_multipart_form(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.post(
            "/sendsms/",
            data={"apikey": account.api_key, "recipients": NUMBER, "message": "été ✓"},
            files={"attachment": ("note.txt", b"\x00\xff ignored")},
        )
        accepted(response)
        assert sent_log(http, account)[0]["message"] == "été ✓"

    def test_a_multipart_body_without_its_boundary_is_a_400(
        self, http: httpx.Client, account: Account
    ) -> None:
        response = http.post(
            f"/sendsms/?apikey={account.api_key}",
            content=b"--nope\r\nnot a form at all",
            headers={"Content-Type": "multipart/form-data"},
        )
        send_refused(response, 400, "invalid_parameter")
