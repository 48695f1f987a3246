"""Compose over real HTTP: what the form's options do to the stored message."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.support.api import sent_row
from tests.support.server import LiveServer
from tests.support.webforms import form_token, sign_in


def compose(live: LiveServer, **fields: str) -> tuple[int, str, list[dict[str, object]], str]:
    """Post the Compose form as htmx does; (status, result HTML, sent-log rows, api key)."""
    account = live.create_account()
    with live.client() as http:
        sign_in(http, account)
        token = form_token(http, "/dashboard/compose")
        answer = http.post(
            "/dashboard/compose", data=fields, headers={"HX-Request": "true", "X-CSRF-Token": token}
        )
        guids = re.findall(r'data-guid="([0-9a-f]{40})"', answer.text)
        rows = [sent_row(http, account, guid) for guid in guids]
    return answer.status_code, answer.text, rows, account.api_key


class TestComposeOptions:
    def test_a_schedule_time_in_the_server_zone_makes_a_scheduled_message(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers(timezone="Europe/Brussels")
        status, html, rows, _ = compose(
            live, recipients="+32470123456", message="Later", schedule="2099-06-01T09:30"
        )
        assert status == 200
        assert 'class="badge scheduled"' in html
        [row] = rows
        assert row["status"] == "scheduled"
        # 09:30 in Brussels in June is 07:30 UTC.
        assert int(str(row["schedule_timestamp"])) == 4083982200

    def test_line_breaks_are_sent_as_typed_and_counted_as_one_character(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        text = "a" * 79 + "\r\n" + "b" * 80  # 160 characters once CR LF is one break
        status, _, rows, _ = compose(live, recipients="+32470123456", message=text)
        assert status == 200
        [row] = rows
        assert row["message"] == "a" * 79 + "\n" + "b" * 80
        assert int(str(row["parts"])) == 1

    def test_encryption_shows_the_key_once_and_sends_a_link(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        status, html, rows, _ = compose(
            live, recipients="+32470123456", message="Gate code 4711", encrypt="1"
        )
        assert status == 200
        key = re.search(r'id="passphrase">([^<]+)<', html)
        assert key
        [row] = rows
        assert "4711" not in str(row["message"])
        assert live.url + "/e/" in str(row["message"])

    def test_a_refusal_is_shown_in_place_and_nothing_is_stored(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        status, html, rows, _ = compose(live, recipients="+32470123456", message="   ")
        assert status == 200  # htmx swaps 2xx only: the refusal is the swapped-in content
        assert 'class="error"' in html
        assert rows == []
