"""Per-account regions over real HTTP: numbers without + are read in the account's region.

Two accounts on one server, one in FR and one on the server's default (BE), send the same
national number and reach two different subscribers; a region changed with the CLI, in another
process, applies to the running server at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from simgate import bus
from simgate.domain.errors import UnknownRegion
from simgate.services import accounts
from tests.conftest import eventually
from tests.support.databases import PostgresFactory, SqliteFactory
from tests.support.handphone import connected
from tests.support.server import Account, LiveServer

pytestmark = pytest.mark.anyio

#: A French landline written nationally; in Belgium the same digits are a Belgian mobile.
NATIONAL = "0470123456"
AS_FRENCH = "+33470123456"
AS_BELGIAN = "+32470123456"


def send(http: httpx.Client, account: Account, recipients: str) -> httpx.Response:
    return http.get(
        "/sendsms/",
        params={"apikey": account.api_key, "recipients": recipients, "message": "hi"},
    )


def recipients_of(http: httpx.Client, account: Account) -> list[str]:
    log = http.get("/log/sent/sms/", params={"apikey": account.api_key}).json()
    return sorted(row["recipients"] for row in log["result"]["sms"])


def test_two_accounts_read_the_same_national_number_in_their_own_region(
    shared_servers: Callable[..., LiveServer], engine: str
) -> None:
    live = shared_servers(engine=engine)
    french, belgian = live.create_account(), live.create_account()
    assert live.call(accounts.set_region(live.ctx, french.email, "fr")) == "FR"
    with live.client() as http:
        assert send(http, french, NATIONAL).status_code == 200
        assert send(http, belgian, NATIONAL).status_code == 200
        assert recipients_of(http, french) == [AS_FRENCH]
        assert recipients_of(http, belgian) == [AS_BELGIAN]


def test_an_impossible_number_names_the_accounts_region(
    shared_servers: Callable[..., LiveServer],
) -> None:
    live = shared_servers()
    french = live.create_account()
    live.call(accounts.set_region(live.ctx, french.email, "FR"))
    with live.client() as http:
        answer = send(http, french, "5551234567")
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid_parameter"
    assert "region FR" in body["message"]
    assert "region BE" not in body["message"]


def test_cleared_region_falls_back_to_the_server_default(
    shared_servers: Callable[..., LiveServer],
) -> None:
    live = shared_servers()
    account = live.create_account()
    live.call(accounts.set_region(live.ctx, account.email, "FR"))
    with live.client() as http:
        assert send(http, account, NATIONAL).status_code == 200  # caches the principal (FR)
        assert live.call(accounts.set_region(live.ctx, account.email, None)) is None
        assert send(http, account, NATIONAL).status_code == 200  # the change dropped it
        assert recipients_of(http, account) == [AS_BELGIAN, AS_FRENCH]


def test_an_unknown_region_is_refused_by_name(shared_servers: Callable[..., LiveServer]) -> None:
    live = shared_servers()
    account = live.create_account()
    with pytest.raises(UnknownRegion, match="'ZZ'") as refused:
        live.call(accounts.set_region(live.ctx, account.email, "ZZ"))
    assert refused.value.extra == {"parameter": "region"}
    assert live.call(accounts.region_of_email(live.ctx, account.email)) is None


def test_every_number_an_account_reads_uses_its_region(
    shared_servers: Callable[..., LiveServer],
) -> None:
    """The device's own number, a received SMS's sender, the conversation and frommobile
    filters: all read a national number as the account's region says."""
    live = shared_servers()
    account = live.create_account()
    live.call(accounts.set_region(live.ctx, account.email, "FR"))
    phone = live.add_device(account)

    async def receive() -> None:
        async with connected(live, phone.token) as device:
            await device.send({"type": "received", "id": "r1", "number": NATIONAL, "text": "yo"})
            assert await device.next("ack") == {"type": "ack", "id": "r1"}
            await device.send(
                {
                    "type": "mobile_sent",
                    "id": "m1",
                    "number": NATIONAL,
                    "text": "typed",
                    "at": int(time.time() * 1000),
                    "formatted": "",
                }
            )
            assert await device.next("ack") == {"type": "ack", "id": "m1"}

    live.call(receive())
    key = {"apikey": account.api_key}
    with live.client() as http:
        updated = http.get(
            "/gateway/mobile/update/",
            params={**key, "sid": phone.sid, "label": "", "phone_number": NATIONAL},
        ).json()
        assert updated["phone_number"] == AS_FRENCH
        inbox = http.get("/getsms/", params=key).json()
        assert [row["number"] for row in inbox["result"]["sms"]] == [AS_FRENCH]
        found = http.get(
            "/conversation/sms/list/",
            params={**key, "number": NATIONAL, "origineConversation": "received"},
        ).json()
        assert [item["phone_number"] for item in found["conversations"]] == [AS_FRENCH]
        typed = http.get("/log/sent/frommobile/", params={**key, "number": NATIONAL}).json()
        assert [row["number"] for row in typed["data"]] == [AS_FRENCH]


# ----------------------------------------------------------------------- from the shell


def simgate(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": database_url,
        "SIMGATE_DEFAULT_REGION": "BE",
        "SIMGATE_LOG_LEVEL": "warning",
    }
    return subprocess.run(
        [sys.executable, "-m", "simgate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def shared_database(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database the test's server and its CLI subprocesses both use."""
    if engine == "postgres":
        factory: PostgresFactory = request.getfixturevalue("postgres_factory")
        return factory.new()
    sqlite: SqliteFactory = request.getfixturevalue("sqlite_factory")
    return sqlite.new()


def test_a_region_set_with_the_cli_applies_to_a_running_server_at_once(
    server_factory: Callable[..., LiveServer], shared_database: str
) -> None:
    live = server_factory(database_url=shared_database)
    account = live.create_account()
    with live.client() as http:
        assert send(http, account, NATIONAL).status_code == 200  # BE, and the key is cached
        done = simgate(
            "account",
            "region",
            "FR",
            "--account",
            account.email,
            "--json",
            database_url=shared_database,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {
            "account": account.email,
            "region": "FR",
            "default": "BE",
        }

        def sent_as_french() -> bool:
            assert send(http, account, NATIONAL).status_code == 200
            return AS_FRENCH in recipients_of(http, account)

        eventually(sent_as_french, timeout=3, interval=0.1)

        done = simgate(
            "account", "region", "--clear", "--account", account.email, database_url=shared_database
        )
        assert done.returncode == 0, done.stderr
        assert "BE (the server's default)" in done.stdout
        before = len(recipients_of(http, account))

        def sent_as_belgian_again() -> Any:
            assert send(http, account, NATIONAL).status_code == 200
            shown = recipients_of(http, account)
            return shown.count(AS_BELGIAN) > 1 and len(shown) > before

        eventually(sent_as_belgian_again, timeout=3, interval=0.1)


@pytest.mark.parametrize("engine", ["sqlite"])
def test_the_cli_shows_lists_and_refuses_regions(shared_database: str) -> None:
    created = simgate(
        "account",
        "create",
        "--email",
        "fr@example.com",
        "--password",
        "pw123456",
        database_url=shared_database,
    )
    assert created.returncode == 0, created.stderr
    shown = simgate(
        "account", "region", "--account", "fr@example.com", database_url=shared_database
    )
    assert shown.returncode == 0, shown.stderr
    assert "BE (the server's default)" in shown.stdout

    refused = simgate(
        "account", "region", "XX", "--account", "fr@example.com", database_url=shared_database
    )
    assert refused.returncode == 1
    assert "Unknown region 'XX'" in refused.stderr
    both = simgate(
        "account",
        "region",
        "FR",
        "--clear",
        "--account",
        "fr@example.com",
        database_url=shared_database,
    )
    assert both.returncode == 2
    assert "not both" in both.stderr

    assert (
        simgate(
            "account", "region", "fr", "--account", "fr@example.com", database_url=shared_database
        ).returncode
        == 0
    )
    listed = simgate("account", "list", "--json", database_url=shared_database)
    assert [row["region"] for row in json.loads(listed.stdout)["accounts"]] == ["FR"]
    table = simgate("account", "list", database_url=shared_database)
    assert "FR" in table.stdout


def test_a_retry_after_a_region_change_gets_the_first_answer(
    shared_servers: Callable[..., LiveServer],
) -> None:
    """The region is the account's, not part of the client's request: an idempotent retry is
    still the same request, and is answered as the first time (not a 409)."""
    live = shared_servers()
    account = live.create_account()
    params = {"apikey": account.api_key, "recipients": NATIONAL, "message": "hi"}
    headers = {"Idempotency-Key": "region-change-1"}
    with live.client() as http:
        first = http.get("/sendsms/", params=params, headers=headers)
        assert first.status_code == 200, first.text
        live.call(accounts.set_region(live.ctx, account.email, "FR"))
        again = http.get("/sendsms/", params=params, headers=headers)
        assert again.status_code == 200, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["result"]["id"] == first.json()["result"]["id"]
        assert recipients_of(http, account) == [AS_BELGIAN]


@pytest.mark.parametrize("engine", ["sqlite"])
def test_a_routing_policy_set_with_the_cli_is_announced_in_the_running_server(
    server_factory: Callable[..., LiveServer], shared_database: str
) -> None:
    """The same watcher tells the server's caches (the dispatcher's policy among them) about
    any account setting changed from the shell, not only regions."""
    live = server_factory(database_url=shared_database)
    account = live.create_account()
    announced: list[str] = []
    unsubscribe = live.ctx.bus.subscribe(bus.ACCOUNT_CHANGED, announced.append)
    try:
        done = simgate(
            "account", "routing", "sticky", "--account", account.email,
            database_url=shared_database,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        eventually(lambda: str(account.id) in announced, timeout=3)
    finally:
        unsubscribe()
