"""The sign-in throttle: free failures, then slower answers, then a pause that ends."""

from __future__ import annotations

from simgate.domain.signin import WINDOW_SECONDS, SignInThrottle


class TestSignInThrottle:
    def test_failures_slow_down_then_refuse_until_the_oldest_ages_out(self) -> None:
        throttle = SignInThrottle(free=2, limit=4, delay=1.5)
        for at in range(2):
            assert throttle.verdict("a|x", at).delay == 0
            throttle.failed("a|x", at)
        assert throttle.verdict("a|x", 2).delay == 1.5
        throttle.failed("a|x", 2)
        throttle.failed("a|x", 3)
        refused = throttle.verdict("a|x", 4)
        assert refused.refused
        assert refused.delay == 0
        assert refused.retry_after == WINDOW_SECONDS - 4  # until the failure at 0 is 15 min old
        assert not throttle.verdict("a|x", WINDOW_SECONDS).refused  # one aged out: 3 left
        assert throttle.verdict("a|x", WINDOW_SECONDS).delay == 1.5

    def test_names_are_counted_apart_and_a_success_clears_a_name(self) -> None:
        throttle = SignInThrottle(free=0, limit=1, delay=1)
        throttle.failed("a|x", 0)
        assert throttle.verdict("a|x", 1).refused
        assert not throttle.verdict("b|x", 1).refused
        throttle.succeeded("a|x")
        assert not throttle.verdict("a|x", 1).refused
