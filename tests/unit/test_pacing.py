"""Pacing: sends evenly spaced under every limit, a daily cap, no pacing when none is set."""

from __future__ import annotations

from datetime import UTC

import pytest

from simgate.dispatch.pacing import Limits, Pacer
from simgate.domain import timefmt

T0 = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC


def day_start(ms: int) -> int:
    return timefmt.today_start_ms(ms, UTC)


class TestInterval:
    @pytest.mark.parametrize(
        ("limits", "interval"),
        [
            (Limits(), 0),
            (Limits(per_minute=6), 10_000),
            (Limits(per_hour=60), 60_000),
            (Limits(per_minute=6, per_hour=60), 60_000),
            (Limits(reported_count=30, reported_seconds=60), 2_000),
            (Limits(per_minute=60, reported_count=30, reported_seconds=60), 1_000),
        ],
    )
    def test_each_limit_becomes_an_even_interval_and_the_owner_wins(
        self, limits: Limits, interval: int
    ) -> None:
        assert limits.interval_ms == interval


class TestPacer:
    def test_six_per_minute_is_one_every_ten_seconds_never_a_burst(self) -> None:
        pacer = Pacer(Limits(per_minute=6), day_start=day_start)
        assert pacer.room(T0, 16) == 1
        pacer.record(T0, 1)
        assert pacer.room(T0 + 1, 16) == 0
        assert pacer.next_slot(T0 + 1) == T0 + 10_000
        assert pacer.room(T0 + 9_999, 16) == 0
        assert pacer.room(T0 + 10_000, 16) == 1

    def test_an_unpaced_device_takes_its_whole_window(self) -> None:
        pacer = Pacer(Limits(), day_start=day_start)
        pacer.record(T0, 16)
        assert pacer.room(T0, 16) == 16

    def test_the_daily_cap_stops_sends_until_the_next_day(self) -> None:
        pacer = Pacer(Limits(daily_cap=3), day_start=day_start, sent_today=2)
        assert pacer.room(T0 + 1000, 16) == 1
        pacer.record(T0 + 1000, 1)
        assert pacer.room(T0 + 2000, 16) == 0
        assert pacer.next_slot(T0 + 2000) == T0 + 86_400_000
        assert pacer.room(T0 + 86_400_000, 16) == 3  # a new day: the cap again
