"""Every compatible endpoint takes the same credentials: the ``apikey`` parameter, any of the
account's keys, a Bearer API key or a Bearer OAuth2 access token; and refuses an expired,
revoked or foreign one with the documented 403, on both engines."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from simgate.services import oauth
from tests.support.api import refused
from tests.support.credentials import access_token, bearer, new_client, new_key, revoke
from tests.support.server import LiveServer

DAY_MS = 86_400_000


def compatible_paths(server: LiveServer) -> list[str]:
    """The documented paths whose parameters include ``apikey``: every authenticated endpoint."""
    paths = []
    for path, operations in server.app.openapi()["paths"].items():
        parameters = operations.get("get", {}).get("parameters", [])
        if any(parameter["name"] == "apikey" for parameter in parameters):
            paths.append(path)
    return sorted(paths)


def authenticated(response: httpx.Response) -> bool:
    """Past authentication: anything but a refused or missing credential (an endpoint may
    still want more parameters, a 400 ``missing_parameter``)."""
    if response.status_code in (401, 403, 429):
        return False
    return response.json().get("error") != "missing_apikey"


@pytest.fixture
def live(server_factory: Callable[..., LiveServer], database_url: str) -> LiveServer:
    return server_factory(database_url)


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client() as client:
        yield client


class TestEveryEndpoint:
    def test_the_sweep_covers_the_compatible_api(self, live: LiveServer) -> None:
        """The list the other tests walk is the real one (about twenty endpoints)."""
        paths = compatible_paths(live)
        assert "/sendsms/" in paths
        assert "/getsms/" in paths
        assert "/gateway/mobile/list/" in paths
        assert len(paths) >= 12

    def test_apikey_a_second_key_and_bearer_forms_are_accepted(
        self, live: LiveServer, http: httpx.Client
    ) -> None:
        account = live.create_account()
        second = new_key(live, account, "second")
        token = access_token(http, new_client(live, account))
        for path in compatible_paths(live):
            for name, response in (
                ("apikey", http.get(path, params={"apikey": account.api_key})),
                ("second key", http.post(path, data={"apikey": second.api_key})),
                ("bearer key", http.get(path, headers=bearer(second.api_key))),
                ("bearer token", http.post(path, headers=bearer(token))),
            ):
                assert authenticated(response), (path, name, response.text)

    def test_a_bearer_token_sends_and_reads_like_a_key(
        self, live: LiveServer, http: httpx.Client
    ) -> None:
        """The seed's OAuth2 example: the token in the header, parameters in a form body."""
        account = live.create_account()
        token = access_token(http, new_client(live, account))
        sent = http.post(
            "/sendsms", headers=bearer(token), data={"recipients": "+32470123456", "message": "Hi"}
        )
        assert sent.status_code == 200, sent.text
        guid = sent.json()["result"]["id"]
        log = http.get("/log/sent/sms/", params={"apikey": account.api_key}).json()
        assert [row["guid"] for row in log["result"]["sms"]] == [guid]

    def test_expired_revoked_and_foreign_credentials_get_403_everywhere(
        self, live: LiveServer, http: httpx.Client
    ) -> None:
        account = live.create_account()
        expiring = new_key(live, account, "expiring", expires_days=1)
        revoked = new_key(live, account, "revoked")
        client = new_client(live, account)
        token = access_token(http, client)
        # Used once, so the server has them cached when they die.
        for secret in (expiring.api_key, revoked.api_key, token):
            assert authenticated(http.get("/getsms/", headers=bearer(secret)))
        revoke(live, account, revoked.id)
        live.call(oauth.revoke_client(live.ctx, account.email, client.client_id))
        now = live.ctx.clock()
        live.ctx.clock = lambda: now + 2 * DAY_MS
        device_token = live.add_device(account).token
        other = live.create_account()
        other_server_key = "0123456789abcdef" * 3
        cases = [
            (expiring.api_key, "api_expired"),
            (revoked.api_key, "invalid_apikey"),
            (token, "invalid_apikey"),
            (device_token, "invalid_apikey"),
            (client.client_secret, "invalid_apikey"),
            (client.client_id, "invalid_apikey"),
            (other_server_key, "invalid_apikey"),
        ]
        for path in compatible_paths(live):
            for secret, code in cases:
                refused(http.get(path, params={"apikey": secret}), 403, code)
                refused(http.post(path, headers=bearer(secret)), 403, code)
        # The other account's key still works: nothing above was account-wide.
        assert authenticated(http.get("/getsms/", params={"apikey": other.api_key}))

    def test_an_expired_access_token_is_refused(self, live: LiveServer, http: httpx.Client) -> None:
        account = live.create_account()
        token = access_token(http, new_client(live, account))
        assert authenticated(http.get("/getsms/", headers=bearer(token)))
        now = live.ctx.clock()
        live.ctx.clock = lambda: now + 3_601_000
        refused(http.get("/getsms/", headers=bearer(token)), 403, "api_expired")
