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


async def _beside_a_ticker(work: asyncio.Future[object]) -> tuple[float, float]:
    """Run ``work`` beside a 5 ms ticker on the same loop: (longest gap between two ticks,
    seconds ``work`` took)."""
    longest = 0.0
    start = last = time.perf_counter()
    while not work.done():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    await work
    return longest, last - start


def _responsive(longest_gap: float, took: float) -> bool:
    """Whether the loop kept ticking through work: no gap near the work's whole duration.

    Inline, a hash is one gap as long as nearly all of the call (0.2-0.3 s here); in a thread,
    the gaps are the scheduler's jitter. Comparing with the call's own duration keeps the check
    meaningful on fast and slow machines alike, and on a busy one.
    """
    return longest_gap < took / 2


class TestPasswordHashing:
    async def test_creating_an_account_at_production_cost_keeps_the_loop_responsive(
        self, sqlite_url: str
    ) -> None:
        """The costly hash runs off the loop: a ticker beside it keeps ticking throughout."""
        settings = Settings(database_url=sqlite_url, password_hash_cost="production")
        ctx = Context(settings=settings, db=Database(sqlite_url))
        try:
            # Let the engine connect first, so the only long step left is the hash.
            await accounts.create_account(ctx, "warm@example.test", "correct horse battery")
            for n in range(3):
                creating = asyncio.ensure_future(
                    accounts.create_account(ctx, f"u{n}@example.test", "correct horse battery")
                )
                assert _responsive(*await _beside_a_ticker(creating))
        finally:
            await ctx.db.dispose()

    async def test_checking_a_password_keeps_the_loop_responsive(self) -> None:
        """Verifying is as costly as hashing, and runs off the loop too."""
        stored = PasswordHasher().hash("correct horse battery")
        checking = asyncio.ensure_future(credentials.check_password(stored, "wrong password"))
        assert _responsive(*await _beside_a_ticker(checking))
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
