"""The store behaves the same on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.domain.errors import StateConflict
from simgate.domain.guids import new_guid
from simgate.domain.outgoing import Outgoing
from simgate.domain.states import MessageState
from simgate.store import accounts, devices, dispatching, inbox, keys, messages, sent_log
from simgate.store.database import Database
from simgate.store.tables import metadata

pytestmark = pytest.mark.anyio

NOW = 1_790_000_000_000


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def _account(db: Database, email: str = "a@example.test") -> int:
    async with db.begin() as conn:
        return await accounts.create(conn, email, "hash", NOW)


async def _device(db: Database, account_id: int, sid: str) -> int:
    async with db.begin() as conn:
        return await devices.create(
            conn,
            account_id,
            sid=sid,
            label="phone",
            token_prefix="sgd_x",
            token_digest=sid * 4,
            now_ms=NOW,
        )


def _message(account_id: int, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "guid": new_guid(),
        "account_id": account_id,
        "recipient": "+32470123456",
        "text": "hello",
        "encoding": "GSM-7",
        "parts": 1,
        "channel": "sms",
        "state": "queued",
        "port": None,
        "requested_sid": None,
        "schedule_ms": None,
        "not_before_ms": NOW,
        "created_ms": NOW,
        "updated_ms": NOW,
        "error_api": "",
        "error_mobile": "",
        "retries": 0,
        "shorturl": False,
        "encrypted": False,
        "source": "api",
    }
    row.update(overrides)
    return row


async def _claim(
    conn: AsyncConnection,
    account_id: int,
    *,
    device_id: int,
    device_sid: str,
    channels: set[str],
    now_ms: int,
    lease_until_ms: int,
    limit: int,
    ports: set[int] | None = None,
) -> list[Outgoing]:
    """What the dispatcher does for one device: read the due candidates, claim them."""
    due = await dispatching.due_candidates(
        conn,
        account_id,
        now_ms=now_ms,
        sids=[device_sid],
        channels=channels,
        ports=ports,
        limit=limit,
    )
    claimed = await dispatching.claim(
        conn,
        account_id,
        {candidate.id: (device_id, device_sid) for candidate in due},
        now_ms=now_ms,
        lease_until_ms=lease_until_ms,
    )
    return claimed.get(device_id, [])


class TestSchema:
    async def test_migrations_create_exactly_the_declared_tables(self, db: Database) -> None:
        async with db.connect() as conn:
            names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert set(metadata.tables) <= names
        assert names - set(metadata.tables) <= {"alembic_version"}

    async def test_migrated_columns_match_the_tables_module(self, db: Database) -> None:
        async with db.connect() as conn:
            for table in metadata.sorted_tables:
                columns = await conn.run_sync(
                    lambda sync, name=table.name: {
                        column["name"] for column in inspect(sync).get_columns(name)
                    }
                )
                assert columns == set(table.columns.keys()), table.name


class TestAccounts:
    async def test_duplicate_email_is_a_conflict_not_a_crash(self, db: Database) -> None:
        await _account(db)
        with pytest.raises(StateConflict):
            await _account(db)

    async def test_key_is_found_by_its_digest_only(self, db: Database) -> None:
        account_id = await _account(db)
        async with db.begin() as conn:
            await keys.add_key(
                conn, account_id, prefix="abcd", digest="d" * 64, label="default", now_ms=NOW
            )
        async with db.connect() as conn:
            found = await keys.key_by_digest(conn, "d" * 64)
            missing = await keys.key_by_digest(conn, "e" * 64)
        assert found is not None
        assert found["account_id"] == account_id
        assert missing is None


class TestClaiming:
    async def test_claim_moves_due_messages_to_the_device_oldest_first(self, db: Database) -> None:
        account_id = await _account(db)
        device_id = await _device(db, account_id, "a" * 16)
        rows = [_message(account_id, text=f"m{i}") for i in range(5)]
        rows.append(_message(account_id, text="later", not_before_ms=NOW + 60_000))
        async with db.begin() as conn:
            await messages.insert_many(conn, rows)
            claimed = await _claim(
                conn,
                account_id,
                device_id=device_id,
                device_sid="a" * 16,
                channels={"sms"},
                now_ms=NOW,
                lease_until_ms=NOW + 1000,
                limit=10,
            )
        assert [item.text for item in claimed] == ["m0", "m1", "m2", "m3", "m4"]
        async with db.connect() as conn:
            states = [(await messages.get(conn, account_id, item.guid)) for item in claimed]
        assert {row["state"] for row in states if row is not None} == {"dispatched"}

    async def test_a_message_for_another_sid_or_channel_is_not_claimed(self, db: Database) -> None:
        account_id = await _account(db)
        device_id = await _device(db, account_id, "b" * 16)
        async with db.begin() as conn:
            await messages.insert_many(
                conn,
                [
                    _message(account_id, requested_sid="c" * 16),
                    _message(account_id, channel="whatsapp"),
                ],
            )
            claimed = await _claim(
                conn,
                account_id,
                device_id=device_id,
                device_sid="b" * 16,
                channels={"sms"},
                now_ms=NOW,
                lease_until_ms=NOW + 1000,
                limit=10,
            )
        assert claimed == []

    async def test_a_message_for_a_sim_port_no_device_serves_is_not_read(
        self, db: Database
    ) -> None:
        account_id = await _account(db)
        device_id = await _device(db, account_id, "b" * 16)
        rows = [_message(account_id, port=2) for _ in range(3)]
        rows += [_message(account_id, port=1), _message(account_id, port=None)]
        async with db.begin() as conn:
            await messages.insert_many(conn, rows)
            claimed = await _claim(
                conn,
                account_id,
                device_id=device_id,
                device_sid="b" * 16,
                channels={"sms"},
                ports={1},
                now_ms=NOW,
                lease_until_ms=NOW + 1000,
                limit=2,
            )
        assert [item.guid for item in claimed] == [str(rows[3]["guid"]), str(rows[4]["guid"])]

    async def test_concurrent_claims_never_hand_one_message_to_two_devices(
        self, db: Database
    ) -> None:
        account_id = await _account(db)
        device_ids = [await _device(db, account_id, f"{i:016d}") for i in range(4)]
        async with db.begin() as conn:
            await messages.insert_many(conn, [_message(account_id) for _ in range(200)])

        async def claim_all(device_id: int, sid: str) -> list[str]:
            got: list[str] = []
            while True:
                async with db.begin() as conn:
                    rows = await _claim(
                        conn,
                        account_id,
                        device_id=device_id,
                        device_sid=sid,
                        channels={"sms"},
                        now_ms=NOW,
                        lease_until_ms=NOW + 1000,
                        limit=7,
                    )
                if not rows:
                    return got
                got.extend(item.guid for item in rows)

        results = await asyncio.gather(
            *(claim_all(device_id, f"{i:016d}") for i, device_id in enumerate(device_ids))
        )
        every = [guid for result in results for guid in result]
        assert len(every) == 200
        assert len(set(every)) == 200

    async def test_expired_leases_return_to_the_queue(self, db: Database) -> None:
        account_id = await _account(db)
        device_id = await _device(db, account_id, "d" * 16)
        async with db.begin() as conn:
            await messages.insert_many(conn, [_message(account_id)])
            await _claim(
                conn,
                account_id,
                device_id=device_id,
                device_sid="d" * 16,
                channels={"sms"},
                now_ms=NOW,
                lease_until_ms=NOW + 1000,
                limit=1,
            )
            assert await messages.next_wakeup(conn, NOW) == NOW + 1000
            assert await messages.requeue_expired(conn, NOW + 500) == []
            assert await messages.requeue_expired(conn, NOW + 1001) == [account_id]
            assert await messages.due_accounts(conn, NOW + 1001) == [account_id]


class TestTenancy:
    async def test_one_account_cannot_read_or_move_anothers_message(self, db: Database) -> None:
        owner = await _account(db, "owner@example.test")
        other = await _account(db, "other@example.test")
        row = _message(owner)
        async with db.begin() as conn:
            await messages.insert_many(conn, [row])
            assert await messages.get(conn, other, str(row["guid"])) is None
            moved = await messages.transition(
                conn, other, str(row["guid"]), MessageState.DISPATCHED, values={"device_id": None}
            )
            assert moved is None
            assert await sent_log.list_log(conn, other) == []
            assert await sent_log.delete_where(conn, other, guid=str(row["guid"])) == 0
            assert (await messages.get(conn, owner, str(row["guid"])))["state"] == "queued"  # type: ignore[index]


class TestInbox:
    async def test_a_resent_frame_is_stored_once(self, db: Database) -> None:
        account_id = await _account(db)
        device_id = await _device(db, account_id, "e" * 16)
        row = {
            "guid": new_guid(),
            "account_id": account_id,
            "device_id": device_id,
            "device_sid": "e" * 16,
            "number": "+32470123456",
            "text": "hi",
            "sim": 1,
            "received_ms": NOW,
            "created_ms": NOW,
            "read": False,
            "alias": None,
            "dedup_key": f"{device_id}:frame-1",
        }
        async with db.begin() as conn:
            first, created = await inbox.insert_once(conn, row)
        async with db.begin() as conn:
            again, created_again = await inbox.insert_once(conn, {**row, "guid": new_guid()})
        assert created
        assert not created_again
        assert again["guid"] == first["guid"]
        async with db.connect() as conn:
            assert len(await inbox.list_received(conn, account_id)) == 1
