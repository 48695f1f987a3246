"""Rate limits with their default settings: per credential, and per client address for failed
authentications; the client address through trusted proxies only."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.support.api import refused
from tests.support.credentials import access_token, bearer, new_client
from tests.support.server import LiveServer

#: The shipped defaults (tests/conftest.py turns them off for the other tests).
DEFAULT_LIMITS = {"api_rate_per_second": 20.0, "auth_failures_per_minute": 20}


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


class TestFailedAuthentication:
    def test_sixty_wrong_keys_from_one_address_get_429_and_another_address_still_works(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        live = server_factory(**DEFAULT_LIMITS, trusted_proxies=("127.0.0.1",))
        account = live.create_account()
        attacker, user = from_address("203.0.113.7"), from_address("198.51.100.20")
        with live.client() as http:
            started = time.monotonic()
            statuses = [
                http.get("/sendsms/", params={"apikey": f"{n:048x}"}, headers=attacker).status_code
                for n in range(60)
            ]
            # 20 a minute: one more try every 3 s. On a busy machine the 60 requests may take
            # that long, so a refilled try may be answered 403 once more, never more often.
            refills = int((time.monotonic() - started) / 3)
            assert statuses[:20] == [403] * 20
            assert statuses[20:].count(403) <= refills
            assert set(statuses[20:]) <= {403, 429}
            assert statuses[-1] == 429
            limited = http.get("/getsms/", params={"apikey": "f" * 48}, headers=attacker)
            body = refused(limited, 429, "rate_limited")
            assert int(limited.headers["Retry-After"]) >= 1
            assert "failed authentications" in body["message"]
            # Even a right key from that address waits: guessing must not go on at any rate.
            refused(
                http.get("/getsms/", params={"apikey": account.api_key}, headers=attacker),
                429,
                "rate_limited",
            )
            mine = http.get("/getsms/", params={"apikey": account.api_key}, headers=user)
            assert mine.status_code == 200, mine.text

    def test_failed_oauth_client_logins_count_too(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        live = server_factory(**DEFAULT_LIMITS)
        form = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
        with live.client() as http:
            statuses = [http.post("/oauth2/token", data=form).status_code for _ in range(25)]
        assert statuses[:20] == [401] * 20
        assert statuses[-1] == 429

    def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        """Without SIMGATE_TRUSTED_PROXIES, rotating the header does not rotate the budget."""
        live = server_factory(**DEFAULT_LIMITS)
        with live.client() as http:
            statuses = [
                http.get(
                    "/getsms/",
                    params={"apikey": f"{n:048x}"},
                    headers=from_address(f"203.0.113.{n}"),
                ).status_code
                for n in range(25)
            ]
        assert statuses[-1] == 429


class TestPerCredential:
    def test_a_burst_past_the_limit_gets_429_with_retry_after(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        live = server_factory(api_rate_per_second=1.0, api_rate_burst=5)
        account = live.create_account()
        other = live.create_account()
        with live.client() as http:
            statuses = [
                http.get("/getsms/", params={"apikey": account.api_key}).status_code
                for _ in range(8)
            ]
            assert statuses[:5] == [200] * 5
            assert statuses[-1] == 429
            limited = http.get("/getsms/", params={"apikey": account.api_key})
            refused(limited, 429, "rate_limited")
            assert limited.headers["Retry-After"] == "1"
            # Another account's key has its own budget.
            assert http.get("/getsms/", params={"apikey": other.api_key}).status_code == 200

    def test_sendsms_429_keeps_the_sendsms_error_shape(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        live = server_factory(api_rate_per_second=1.0, api_rate_burst=1)
        account = live.create_account()
        query = {"apikey": account.api_key, "recipients": "+32470123456", "message": "x"}
        with live.client() as http:
            assert http.get("/sendsms/", params=query).status_code == 200
            body = http.get("/sendsms/", params=query).json()
        assert body["result"] == {"error": "rate_limited", "sent": "0"}

    def test_tokens_of_one_client_share_its_budget(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        """Minting more tokens does not raise the rate."""
        live = server_factory(api_rate_per_second=1.0, api_rate_burst=4)
        account = live.create_account()
        client = new_client(live, account)
        with live.client() as http:
            tokens = [access_token(http, client) for _ in range(4)]
            statuses = [
                http.get("/getsms/", headers=bearer(token)).status_code for token in tokens * 2
            ]
        assert statuses[:4] == [200] * 4
        assert 429 in statuses[4:]

    def test_the_default_burst_lets_an_ordinary_client_through(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        """30 quick requests fit in the default burst of 40: no client notices the limit."""
        live = server_factory(**DEFAULT_LIMITS)
        account = live.create_account()
        with live.client() as http:
            statuses = {
                http.get("/getsms/", params={"apikey": account.api_key}).status_code
                for _ in range(30)
            }
        assert statuses == {200}


def test_the_documented_error_shape_of_429(server_factory: Callable[..., LiveServer]) -> None:
    live = server_factory(api_rate_per_second=1.0, api_rate_burst=1)
    account = live.create_account()
    with live.client() as http:
        http.get("/getsms/", params={"apikey": account.api_key})
        response = http.get("/getsms/", params={"apikey": account.api_key})
    assert isinstance(response, httpx.Response)
    body = refused(response, 429, "rate_limited")
    assert set(body) >= {"success", "error", "message"}
