"""Numbers without ``+`` over real HTTP: read in the default region, never guessed abroad."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.server import LiveServer


def test_a_number_that_is_not_belgian_is_refused_naming_the_region(
    shared_servers: Callable[..., LiveServer],
) -> None:
    """Issue 14: recipients=5551234567 with region BE was sent to +5551234567 (Brazil)."""
    live = shared_servers()
    account = live.create_account()
    with live.client() as http:
        answer = http.get(
            "/sendsms/",
            params={"apikey": account.api_key, "recipients": "5551234567", "message": "hi"},
        )
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid_parameter"
    assert "region BE" in body["message"]
    assert "+" in body["message"]
    assert body["result"] == {"error": "invalid_parameter", "sent": "0"}


def test_a_pasted_column_reaches_every_number(shared_servers: Callable[..., LiveServer]) -> None:
    live = shared_servers()
    account = live.create_account()
    with live.client() as http:
        answer = http.post(
            "/sendsms/",
            data={
                "apikey": account.api_key,
                "recipients": "0470 12 34 56\r\n0471123456\n",
                "message": "hi",
            },
        )
        assert answer.status_code == 200, answer.text
        log = http.get("/log/sent/sms/", params={"apikey": account.api_key}).json()
    assert sorted(row["recipients"] for row in log["result"]["sms"]) == [
        "+32470123456",
        "+32471123456",
    ]
