"""Several API keys per account: made, listed and revoked from the CLI and the services; a
revoked key is refused at once by the process that had it cached, and within a fraction of a
second when another process revoked it; old key rows keep working after the migration; last
use is recorded."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from simgate.services import accounts, credentials, keys
from simgate.store.database import Database
from simgate.store.migrate import upgrade
from tests.conftest import eventually
from tests.support.api import refused
from tests.support.credentials import new_key, revoke
from tests.support.server import LiveServer


def simgate(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI, as an operator runs it, on the live server's database."""
    env = {
        **os.environ,
        "SIMGATE_DATABASE_URL": server.settings.database_url,
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


def cli_json(server: LiveServer, *args: str) -> Any:
    done = simgate(server, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def works(http: httpx.Client, key: str) -> bool:
    return http.get("/getsms/", params={"apikey": key}).status_code == 200


class TestKeyCommands:
    def test_create_list_revoke_from_the_cli(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        server = server_factory(auth_cache_seconds=0.5)
        account = server.create_account()
        made = cli_json(server, "key", "create", "--account", account.email, "--name", "ci")
        assert set(made) >= {"id", "api_key"}
        with server.client() as http:
            assert works(http, made["api_key"])
            assert works(http, account.api_key)  # the first key is not replaced
            listed = cli_json(server, "key", "list", "--account", account.email)
            human = simgate(server, "key", "list", "--account", account.email)
            for output in (json.dumps(listed), human.stdout):
                assert made["api_key"] not in output
                assert account.api_key not in output
            rows = {row["id"]: row for row in listed["keys"]}
            assert rows[made["id"]]["name"] == "ci"
            assert rows[made["id"]]["prefix"] == made["api_key"][:8]
            assert rows[made["id"]]["state"] == "active"
            assert rows[made["id"]]["created_at"] is not None
            revoked = simgate(server, "key", "revoke", "--account", account.email, str(made["id"]))
            assert revoked.returncode == 0, revoked.stderr
            # Another process revoked it: this server's watcher notices.
            eventually(lambda: not works(http, made["api_key"]), timeout=5)
            refused(http.get("/getsms/", params={"apikey": made["api_key"]}), 403, "invalid_apikey")
            assert works(http, account.api_key)
        listed = cli_json(server, "key", "list", "--account", account.email)
        assert {row["id"]: row["state"] for row in listed["keys"]}[made["id"]] == "revoked"

    def test_a_key_revoked_from_the_shell_is_refused_by_the_server_within_a_second(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        """The server caches checked keys for a minute here, yet a revocation made by another
        process (the CLI) reaches it at once: it watches the credential tables, not the clock."""
        server = server_factory(auth_cache_seconds=60)
        account = server.create_account()
        made = cli_json(server, "key", "create", "--account", account.email)
        with server.client() as http:
            assert works(http, made["api_key"])  # now cached for 60 s
            revoked = simgate(server, "key", "revoke", "--account", account.email, str(made["id"]))
            assert revoked.returncode == 0, revoked.stderr
            eventually(lambda: not works(http, made["api_key"]), timeout=1.0)
            refused(http.get("/getsms/", params={"apikey": made["api_key"]}), 403, "invalid_apikey")
            assert works(http, account.api_key)

    def test_expires_makes_a_key_that_dies_on_time(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        server = server_factory()
        account = server.create_account()
        made = cli_json(server, "key", "create", "--account", account.email, "--expires", "2")
        with server.client() as http:
            assert works(http, made["api_key"])
            now = server.ctx.clock()
            server.ctx.clock = lambda: now + 2 * 86_400_000 + 1
            refused(http.get("/getsms/", params={"apikey": made["api_key"]}), 403, "api_expired")

    def test_revoking_an_unknown_key_or_another_accounts_key_fails(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        server = server_factory()
        owner, other = server.create_account(), server.create_account()
        key = new_key(server, owner)
        done = simgate(server, "key", "revoke", "--account", other.email, str(key.id))
        assert done.returncode == 1
        with server.client() as http:
            assert works(http, key.api_key)


class TestRevocation:
    def test_a_cached_key_is_refused_at_once_after_revocation(
        self, server_factory: Callable[..., LiveServer], database_url: str
    ) -> None:
        """The cache lives for seconds, but the bus makes this process forget it at once."""
        server = server_factory(database_url, auth_cache_seconds=60)
        account = server.create_account()
        key = new_key(server, account)
        with server.client() as http:
            assert works(http, key.api_key)  # now cached for a minute
            revoke(server, account, key.id)
            refused(http.get("/getsms/", params={"apikey": key.api_key}), 403, "invalid_apikey")
            assert works(http, account.api_key)

    def test_a_revoked_key_stays_revoked_and_revoking_twice_says_so(
        self, server_factory: Callable[..., LiveServer]
    ) -> None:
        server = server_factory()
        account = server.create_account()
        key = new_key(server, account)
        revoke(server, account, key.id)
        assert not server.call(keys.revoke_key(server.ctx, account.email, key.id))


class TestLastUsed:
    def test_last_use_is_written_in_batches_not_per_request(
        self, server_factory: Callable[..., LiveServer], database_url: str
    ) -> None:
        server = server_factory(database_url, last_used_flush_seconds=0.3)
        account = server.create_account()
        key = new_key(server, account)

        def last_used() -> int | None:
            found = server.call(keys.list_keys(server.ctx, account.email))
            return {item.id: item.last_used_ms for item in found}[key.id]

        assert last_used() is None
        with server.client() as http:
            for _ in range(5):
                assert works(http, key.api_key)
        assert eventually(last_used, timeout=5)


class TestOldKeys:
    def test_a_key_stored_before_the_access_migration_still_works(
        self, tmp_path: Path, server_factory: Callable[..., LiveServer]
    ) -> None:
        """Rows of the old api_keys table (digest and prefix already) need no rewriting."""
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        upgrade(url, "0003")
        key = asyncio.run(_account_at_0003(url))
        upgrade(url)
        server = server_factory(url)
        with server.client() as http:
            assert works(http, key)


async def _account_at_0003(url: str) -> str:
    """An account and its key, written with exactly the columns revision 0003 had."""
    key = credentials.new_api_key()
    db = Database(url)
    try:
        async with db.begin() as conn:
            columns = await conn.execute(text("PRAGMA table_info(api_keys)"))
            assert "last_used_ms" not in {row[1] for row in columns}
            await conn.execute(
                text(
                    "INSERT INTO accounts (email, password_hash, created_ms) "
                    "VALUES ('old@example.test', 'x', 1)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO api_keys (account_id, prefix, digest, label, created_ms) "
                    "VALUES (1, :prefix, :digest, 'default', 1)"
                ),
                {"prefix": key.prefix, "digest": key.digest},
            )
    finally:
        await db.dispose()
    return key.value


def test_account_creation_still_returns_a_working_key(
    server_factory: Callable[..., LiveServer],
) -> None:
    server = server_factory()
    created = server.call(accounts.create_account(server.ctx, "first@example.test", "password1"))
    with server.client() as http:
        assert works(http, created.api_key)


@pytest.mark.parametrize("days", ["0", "-1", "x"])
def test_a_bad_expiry_is_refused_by_the_cli(
    server_factory: Callable[..., LiveServer], days: str
) -> None:
    server = server_factory()
    account = server.create_account()
    done = simgate(server, "key", "create", "--account", account.email, "--expires", days)
    assert done.returncode != 0
