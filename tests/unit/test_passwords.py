"""Password hashing: Argon2id at the configured cost, never on the event loop."""

from __future__ import annotations

import asyncio
import time

import pytest
from argon2 import PasswordHasher

from simgate.config import Settings
from simgate.context import Context
from simgate.services import accounts, credentials
from simgate.store.database import Database

pytestmark = pytest.mark.anyio

#: A loop serving requests and device connections must never stall longer than this.
MAX_STALL = 0.05


async def _longest_stall(work: asyncio.Future[object] | asyncio.Task[object]) -> float:
    """The longest gap between the ticks of a 5 ms ticker while ``work`` runs."""
    longest = 0.0
    last = time.perf_counter()
    while not work.done():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    await work
    return longest


class TestPasswordHashing:
    async def test_creating_an_account_at_production_cost_keeps_the_loop_responsive(
        self, sqlite_url: str
    ) -> None:
        """The costly hash runs off the loop: a concurrent ticker never waits 50 ms."""
        settings = Settings(database_url=sqlite_url, password_hash_cost="production")
        ctx = Context(settings=settings, db=Database(sqlite_url))
        try:
            # Let the engine connect first, so the only long step left is the hash.
            await accounts.create_account(ctx, "warm@example.test", "correct horse battery")
            for n in range(3):
                creating = asyncio.ensure_future(
                    accounts.create_account(ctx, f"u{n}@example.test", "correct horse battery")
                )
                assert await _longest_stall(creating) < MAX_STALL
        finally:
            await ctx.db.dispose()

    async def test_checking_a_password_keeps_the_loop_responsive(self) -> None:
        """Verifying is as costly as hashing, and runs off the loop too."""
        stored = PasswordHasher().hash("correct horse battery")
        checking = asyncio.ensure_future(credentials.check_password(stored, "wrong password"))
        assert await _longest_stall(checking) < MAX_STALL
        assert await checking is False

    async def test_production_cost_is_the_rfc_9106_low_memory_profile(self) -> None:
        """The default deployment stores Argon2id with 64 MiB, 3 passes and 4 lanes."""
        assert Settings().password_hash_cost == "production"
        stored = await credentials.hash_password("correct horse battery", "production")
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")

    @pytest.mark.parametrize("cost", ["production", "test"])
    async def test_a_hash_at_any_cost_checks_its_password_and_only_it(
        self, cost: credentials.PasswordCost
    ) -> None:
        stored = await credentials.hash_password("correct horse battery", cost)
        assert await credentials.check_password(stored, "correct horse battery")
        assert not await credentials.check_password(stored, "correct horse batterY")
        assert not await credentials.check_password("not a hash", "correct horse battery")
