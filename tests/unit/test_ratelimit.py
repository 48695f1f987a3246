"""Token buckets, on a clock the test holds."""

from __future__ import annotations

import pytest

from simgate.domain.ratelimit import Buckets, retry_after


class TestBuckets:
    def test_a_full_bucket_grants_its_capacity_then_says_how_long_to_wait(self) -> None:
        buckets = Buckets(rate=2.0, capacity=3)
        assert [buckets.take("k", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
        assert buckets.take("k", 0.0) == pytest.approx(0.5)

    def test_tokens_come_back_at_the_rate_up_to_the_capacity(self) -> None:
        buckets = Buckets(rate=1.0, capacity=2)
        buckets.take("k", 0.0)
        buckets.take("k", 0.0)
        assert buckets.take("k", 1.0) == 0.0
        assert buckets.take("k", 1.0) > 0
        assert buckets.wait("k", 100.0) == 0.0

    def test_names_have_separate_buckets(self) -> None:
        buckets = Buckets(rate=1.0, capacity=1)
        assert buckets.take("a", 0.0) == 0.0
        assert buckets.take("b", 0.0) == 0.0
        assert buckets.take("a", 0.0) > 0

    def test_wait_does_not_take(self) -> None:
        buckets = Buckets(rate=1.0, capacity=1)
        assert buckets.wait("a", 0.0) == 0.0
        assert buckets.take("a", 0.0) == 0.0
        assert buckets.wait("a", 0.0) == pytest.approx(1.0)

    def test_memory_stays_bounded_under_a_flood_of_names(self) -> None:
        buckets = Buckets(rate=1.0, capacity=5, max_tracked=100)
        for n in range(1000):
            buckets.take(f"name{n}", 0.0)
        assert len(buckets) <= 100

    def test_idle_full_buckets_are_forgotten_first(self) -> None:
        buckets = Buckets(rate=1.0, capacity=2, max_tracked=3)
        for _ in range(2):
            buckets.take("busy", 10.0)
        buckets.take("idle1", 0.0)
        buckets.take("idle2", 0.0)
        buckets.take("new", 10.0)
        assert buckets.wait("busy", 10.0) > 0  # still remembered, still limited


@pytest.mark.parametrize(("seconds", "header"), [(0.01, 1), (1.0, 1), (1.2, 2), (59.5, 60)])
def test_retry_after_is_whole_seconds_rounded_up(seconds: float, header: int) -> None:
    assert retry_after(seconds) == header
