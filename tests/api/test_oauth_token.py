"""``POST /oauth2/token`` against RFC 6749: §4.4's example request and answer, §5.2's errors,
and the client's life cycle (its tokens die with it)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from simgate.services import credentials, oauth
from simgate.store import oauth as oauth_store
from tests.support.api import refused
from tests.support.credentials import access_token, bearer, new_client
from tests.support.server import Account, LiveServer

#: RFC 6749 §2.3.1 and §4.4.2: client "s6BhdRkqt3" with secret "gX1fBat3bV".
RFC_CLIENT_ID = "s6BhdRkqt3"
RFC_SECRET = "gX1fBat3bV"
RFC_BASIC = "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def rfc_client(server: LiveServer, account: Account) -> None:
    """The RFC's example client, stored the way simgate stores any client (once: the module's
    tests share the server)."""
    secret_digest = credentials.digest(RFC_SECRET)

    async def store() -> None:
        async with server.ctx.db.begin() as conn:
            if await oauth_store.client_by_client_id(conn, RFC_CLIENT_ID) is not None:
                return
            await oauth_store.add_client(
                conn,
                account.id,
                client_id=RFC_CLIENT_ID,
                secret_prefix=RFC_SECRET[:4],
                secret_digest=secret_digest,
                name="rfc",
                now_ms=server.ctx.clock(),
            )

    server.call(store())


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    return body  # type: ignore[no-any-return]


@pytest.mark.usefixtures("rfc_client")
class TestRfcExamples:
    def test_the_rfc_example_request_gets_a_bearer_token(self, http: httpx.Client) -> None:
        """§4.4.2's request verbatim; §4.4.3/§5.1's answer: no caching, JSON, token type."""
        response = http.post(
            "/oauth2/token",
            headers={"Authorization": RFC_BASIC, **FORM},
            content=b"grant_type=client_credentials",
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        assert len(body["access_token"]) > 32
        assert http.get("/getsms/", headers=bearer(body["access_token"])).status_code == 200

    def test_credentials_in_the_body_work_too(self, http: httpx.Client) -> None:
        """§2.3.1: client_id and client_secret as form parameters (the seed's curl example)."""
        response = http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": RFC_CLIENT_ID,
                "client_secret": RFC_SECRET,
            },
        )
        assert response.status_code == 200, response.text

    def test_a_wrong_secret_is_invalid_client_401_with_www_authenticate(
        self, http: httpx.Client
    ) -> None:
        wrong = base64.b64encode(f"{RFC_CLIENT_ID}:nope".encode()).decode()
        response = http.post(
            "/oauth2/token",
            headers={"Authorization": f"Basic {wrong}", **FORM},
            content=b"grant_type=client_credentials",
        )
        oauth_error(response, 401, "invalid_client")
        assert response.headers["www-authenticate"].startswith("Basic")

    @pytest.mark.parametrize(
        "form",
        [
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
            {"grant_type": "client_credentials", "client_id": RFC_CLIENT_ID},
            {"grant_type": "client_credentials"},
        ],
        ids=["unknown client", "no secret", "no authentication"],
    )
    def test_failed_client_authentication_is_invalid_client(
        self, http: httpx.Client, form: dict[str, str]
    ) -> None:
        oauth_error(http.post("/oauth2/token", data=form), 401, "invalid_client")

    def test_another_grant_type_is_unsupported_grant_type(self, http: httpx.Client) -> None:
        """§4.3's password grant, for example, is not offered."""
        response = http.post(
            "/oauth2/token",
            headers={"Authorization": RFC_BASIC, **FORM},
            content=b"grant_type=password&username=johndoe&password=A3ddj3w",
        )
        oauth_error(response, 400, "unsupported_grant_type")

    @pytest.mark.parametrize(
        ("content", "headers"),
        [
            (b"", {"Authorization": RFC_BASIC, **FORM}),
            (b"grant_type=", {"Authorization": RFC_BASIC, **FORM}),
            (
                b"grant_type=client_credentials&grant_type=client_credentials",
                {"Authorization": RFC_BASIC, **FORM},
            ),
            (
                f"grant_type=client_credentials&client_secret={RFC_SECRET}".encode(),
                {"Authorization": RFC_BASIC, **FORM},
            ),
            (
                b'{"grant_type": "client_credentials"}',
                {"Authorization": RFC_BASIC, "Content-Type": "application/json"},
            ),
        ],
        ids=["no grant_type", "empty grant_type", "repeated", "two methods", "json body"],
    )
    def test_malformed_requests_are_invalid_request(
        self, http: httpx.Client, content: bytes, headers: dict[str, str]
    ) -> None:
        oauth_error(
            http.post("/oauth2/token", headers=headers, content=content), 400, "invalid_request"
        )

    def test_get_is_not_a_token_request(self, http: httpx.Client) -> None:
        """§3.2: the client MUST use POST."""
        assert (
            http.get("/oauth2/token", params={"grant_type": "client_credentials"}).status_code
            == 405
        )


class TestClientLifeCycle:
    def test_revoking_a_client_kills_its_tokens_at_once(
        self, server: LiveServer, account: Account, http: httpx.Client
    ) -> None:
        client = new_client(server, account)
        token = access_token(http, client)
        assert http.get("/getsms/", headers=bearer(token)).status_code == 200  # cached now
        server.call(oauth.revoke_client(server.ctx, account.email, client.client_id))
        refused(http.get("/getsms/", headers=bearer(token)), 403, "invalid_apikey")
        response = http.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client.client_id,
                "client_secret": client.client_secret,
            },
        )
        oauth_error(response, 401, "invalid_client")

    def test_tokens_of_one_client_do_not_open_another_account(
        self, server: LiveServer, account: Account, http: httpx.Client
    ) -> None:
        other = server.create_account()
        token = access_token(http, new_client(server, other))
        body = http.get("/getsms/", headers=bearer(token)).json()
        assert body["result"]["sms"] == []
        mine = http.get("/log/sent/sms/", params={"apikey": account.api_key})
        assert mine.status_code == 200

    def test_the_cli_creates_lists_and_revokes_clients(self, server: LiveServer) -> None:
        import json
        import os
        import subprocess
        import sys

        account = server.create_account()
        env = {**os.environ, "SIMGATE_DATABASE_URL": server.settings.database_url}

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "simgate", "oauth", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

        created = cli("create", "--account", account.email, "--name", "erp", "--json")
        assert created.returncode == 0, created.stderr
        made = json.loads(created.stdout)
        assert set(made) >= {"client_id", "client_secret"}
        listed = cli("list", "--account", account.email)
        assert made["client_id"] in listed.stdout
        assert made["client_secret"] not in listed.stdout
        assert "erp" in listed.stdout
        with server.client() as http:
            token = access_token(
                http, oauth.NewClient(made["client_id"], made["client_secret"], "")
            )
            assert http.get("/getsms/", headers=bearer(token)).status_code == 200
        revoked = cli("revoke", "--account", account.email, made["client_id"])
        assert revoked.returncode == 0, revoked.stderr
        assert "revoked" in cli("list", "--account", account.email, "--json").stdout
