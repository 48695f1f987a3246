"""The API access page over real HTTP: keys and OAuth clients created (shown once), used on
the API, revoked (refused at once); the anti-forgery token on every form; another account's
key or client answering exactly like an unknown one."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from simgate.services import keys, oauth
from tests.support.server import Account, LiveServer
from tests.support.webforms import TOKEN, form_token, signed_in_client

NEW_SECRET = re.compile(r'id="new-secret" class="mono" type="text" readonly value="([^"]+)"')
CLIENT_ID = re.compile(r'id="client-id" class="mono" type="text" readonly value="([^"]+)"')


def new_key(http: httpx.Client, **fields: str) -> httpx.Response:
    token = form_token(http, "/dashboard/access")
    return http.post("/dashboard/access/keys", data={"csrf_token": token, **fields})


def shown(answer: httpx.Response, pattern: re.Pattern[str] = NEW_SECRET) -> str:
    assert answer.status_code == 200, answer.text
    found = pattern.search(answer.text)
    assert found is not None
    return found.group(1)


def key_named(live: LiveServer, account: Account, name: str) -> keys.KeyInfo:
    [found] = [k for k in live.call(keys.list_keys(live.ctx, account.email)) if k.name == name]
    return found


def api_status(live: LiveServer, **credential: str) -> int:
    with live.client() as http:
        if "bearer" in credential:
            headers = {"Authorization": f"Bearer {credential['bearer']}"}
            return http.get("/log/sent/sms/", headers=headers).status_code
        return http.get("/log/sent/sms/", params=credential).status_code


class TestKeys:
    def test_a_key_with_an_expiry_is_listed_without_its_secret(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        with signed_in_client(live, account) as http:
            key = shown(new_key(http, name="till <1>", expires="7"))
            assert "It expires on" in new_key(http, name="x", expires="1").text
            page = http.get("/dashboard/access").text
            assert "till &lt;1&gt;" in page
            assert key[:8] + "…" in page
            assert key not in page
        assert api_status(live, apikey=key) == 200
        info = key_named(live, account, "till <1>")
        assert info.expires_ms is not None
        assert 7 * 86_400_000 - 60_000 < info.expires_ms - info.created_ms <= 7 * 86_400_000

    def test_a_wrong_expiry_or_label_is_said_in_the_form(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        with signed_in_client(live, account) as http:
            for fields in (
                {"name": "a", "expires": "0"},
                {"name": "a", "expires": "-3"},
                {"name": "a", "expires": "3651"},
                {"name": "a", "expires": "soon"},
                {"name": "x" * 101},
            ):
                answer = new_key(http, **fields)
                assert answer.status_code == 400, fields
                assert 'class="error" role="alert"' in answer.text
        assert len(live.call(keys.list_keys(live.ctx, account.email))) == 1  # the first one

    def test_revoking_refuses_the_key_at_once_and_twice_is_harmless(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        with signed_in_client(live, account) as http:
            key = shown(new_key(http, name="temp"))
            assert api_status(live, apikey=key) == 200  # now in the credential cache
            number = key_named(live, account, "temp").id
            token = form_token(http, "/dashboard/access")
            done = http.post(f"/dashboard/access/keys/{number}/revoke", data={"csrf_token": token})
            assert done.status_code == 303
            assert api_status(live, apikey=key) == 403
            assert api_status(live, apikey=account.api_key) == 200  # the other key still works
            again = http.post(f"/dashboard/access/keys/{number}/revoke", data={"csrf_token": token})
            assert "That key was already revoked." in http.get(again.headers["location"]).text


class TestClients:
    def test_a_client_gets_tokens_until_it_is_revoked(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        account = live.create_account()
        with signed_in_client(live, account) as http:
            token = form_token(http, "/dashboard/access")
            answer = http.post(
                "/dashboard/access/clients", data={"name": "billing", "csrf_token": token}
            )
            client_id = shown(answer, CLIENT_ID)
            secret = shown(answer)
            page = http.get("/dashboard/access").text
            assert client_id in page
            assert secret not in page
            with live.client() as api:
                issued = api.post(
                    "/oauth2/token",
                    data={"grant_type": "client_credentials"},
                    auth=(client_id, secret),
                )
            assert issued.status_code == 200, issued.text
            bearer = issued.json()["access_token"]
            assert api_status(live, bearer=bearer) == 200
            done = http.post(
                f"/dashboard/access/clients/{client_id}/revoke", data={"csrf_token": token}
            )
            assert done.status_code == 303
            assert "its tokens are refused" in http.get(done.headers["location"]).text
            assert api_status(live, bearer=bearer) == 403


class TestRefused:
    def test_every_form_needs_the_token(self, shared_servers: Callable[..., LiveServer]) -> None:
        live = shared_servers()
        account = live.create_account()
        client = live.call(oauth.create_client(live.ctx, account.email, "c"))
        first = live.call(keys.list_keys(live.ctx, account.email))[0].id
        with signed_in_client(live, account) as http:
            for path in (
                "/dashboard/access/keys",
                "/dashboard/access/clients",
                f"/dashboard/access/keys/{first}/revoke",
                f"/dashboard/access/clients/{client.client_id}/revoke",
            ):
                assert http.post(path, data={"name": "forged"}).status_code == 403, path
        assert api_status(live, apikey=account.api_key) == 200
        assert len(live.call(keys.list_keys(live.ctx, account.email))) == 1
        [listed] = live.call(oauth.list_clients(live.ctx, account.email))
        assert listed.revoked_ms is None

    def test_another_accounts_key_or_client_answers_like_an_unknown_one(
        self, shared_servers: Callable[..., LiveServer]
    ) -> None:
        live = shared_servers()
        owner = live.create_account()
        intruder = live.create_account()
        their_key = live.call(keys.list_keys(live.ctx, owner.email))[0].id
        their_client = live.call(oauth.create_client(live.ctx, owner.email, "theirs"))
        with signed_in_client(live, intruder) as http:
            found = TOKEN.search(http.get("/dashboard/access").text)
            assert found is not None
            data = {"csrf_token": found.group(1)}
            page = http.get("/dashboard/access").text
            assert their_client.client_id not in page
            theirs = http.post(f"/dashboard/access/keys/{their_key}/revoke", data=data)
            nobody = http.post(f"/dashboard/access/keys/{their_key + 1000}/revoke", data=data)
            assert theirs.status_code == nobody.status_code == 404
            assert theirs.text == nobody.text.replace(str(their_key + 1000), str(their_key))
            theirs = http.post(
                f"/dashboard/access/clients/{their_client.client_id}/revoke", data=data
            )
            nobody = http.post("/dashboard/access/clients/sgc_nobody/revoke", data=data)
            assert theirs.status_code == nobody.status_code == 404
            assert theirs.text == nobody.text.replace("sgc_nobody", their_client.client_id)
            assert http.post("/dashboard/access/keys/abc/revoke", data=data).status_code == 400
        assert api_status(live, apikey=owner.api_key) == 200
        [listed] = live.call(oauth.list_clients(live.ctx, owner.email))
        assert listed.revoked_ms is None
