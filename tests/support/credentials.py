"""Helpers of the access tests: more keys, OAuth2 clients and their tokens, on a live server."""

from __future__ import annotations

import httpx

from simgate.services import keys, oauth
from tests.support.server import Account, LiveServer


def new_key(
    server: LiveServer, account: Account, name: str = "", expires_days: int | None = None
) -> keys.NewKey:
    """Another API key of ``account``, made on the server's own loop (its bus, its cache)."""
    return server.call(keys.create_key(server.ctx, account.email, name, expires_days))


def revoke(server: LiveServer, account: Account, key_id: int) -> None:
    assert server.call(keys.revoke_key(server.ctx, account.email, key_id))


def new_client(server: LiveServer, account: Account, name: str = "") -> oauth.NewClient:
    return server.call(oauth.create_client(server.ctx, account.email, name))


def access_token(http: httpx.Client, client: oauth.NewClient) -> str:
    """A bearer token from ``POST /oauth2/token``, the client's secret in the form body."""
    response = http.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    return str(body["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
