"""The message state machine: the table is the rule, checked pair by pair."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simgate.domain.errors import IllegalTransition, StateConflict
from simgate.domain.states import (
    INITIAL,
    MAX_AUTO_RETRIES,
    RETRY_DELAY_CAP,
    TERMINAL,
    TRANSITIONS,
    MessageState,
    can_transition,
    check_transition,
    retry_delay,
)

S = MessageState

# The specification, written out independently of the module's table.
ALLOWED: set[tuple[MessageState, MessageState]] = {
    (S.SCHEDULED, S.QUEUED),
    (S.SCHEDULED, S.CANCELLED),
    (S.SCHEDULED, S.FAILED),
    (S.QUEUED, S.DISPATCHED),
    (S.QUEUED, S.EXPIRED),
    (S.QUEUED, S.CANCELLED),
    (S.QUEUED, S.FAILED),
    (S.DISPATCHED, S.SENT),
    (S.DISPATCHED, S.FAILED),
    (S.DISPATCHED, S.QUEUED),
    (S.FAILED, S.QUEUED),
}

ALL_PAIRS = list(itertools.product(MessageState, MessageState))


def test_state_values_are_the_stored_strings() -> None:
    """The string values are persisted and exposed by the API, so they are pinned."""
    assert {s.value for s in MessageState} == {
        "scheduled",
        "queued",
        "dispatched",
        "sent",
        "failed",
        "expired",
        "cancelled",
    }
    assert MessageState("sent") is S.SENT
    assert str(S.QUEUED) == "queued"
    assert f"{S.QUEUED}" == "queued"


def test_table_has_an_entry_for_every_state() -> None:
    """Looking up any state never raises KeyError."""
    assert set(TRANSITIONS) == set(MessageState)


def test_table_is_read_only() -> None:
    """No caller can widen the rules at run time."""
    with pytest.raises(TypeError):
        TRANSITIONS[S.SENT] = frozenset({S.QUEUED})  # type: ignore[index]


@pytest.mark.parametrize(("src", "dst"), ALL_PAIRS, ids=lambda s: s.value)
def test_every_pair_follows_the_specification(src: MessageState, dst: MessageState) -> None:
    """can_transition and check_transition agree with the written-out rules for all 49 pairs."""
    expected = (src, dst) in ALLOWED
    assert can_transition(src, dst) is expected
    assert (dst in TRANSITIONS[src]) is expected
    if expected:
        check_transition(src, dst)
    else:
        with pytest.raises(IllegalTransition) as info:
            check_transition(src, dst)
        assert src.value in info.value.message
        assert dst.value in info.value.message


def test_terminal_states_are_sent_expired_cancelled() -> None:
    """Only these three are final; FAILED can still be retried or resent."""
    assert {S.SENT, S.EXPIRED, S.CANCELLED} == TERMINAL
    assert S.FAILED not in TERMINAL


@pytest.mark.parametrize("src", sorted(TERMINAL), ids=lambda s: s.value)
def test_terminal_states_have_no_exit(src: MessageState) -> None:
    """Once final, a message never changes again, whatever is requested."""
    assert TRANSITIONS[src] == frozenset()
    for dst in MessageState:
        assert not can_transition(src, dst)
        with pytest.raises(IllegalTransition, match="final state"):
            check_transition(src, dst)


def test_no_state_transitions_to_itself() -> None:
    """A repeated report (e.g. "sent" twice) is a conflict, not a silent no-op."""
    for state in MessageState:
        assert not can_transition(state, state)


def test_illegal_transition_message_lists_allowed_targets() -> None:
    """The error tells the caller what would have been possible."""
    with pytest.raises(IllegalTransition) as info:
        check_transition(S.SCHEDULED, S.SENT)
    assert info.value.message == (
        "Cannot change message state from 'scheduled' to 'sent': "
        "from 'scheduled' a message can only become: cancelled, failed, queued"
    )
    assert isinstance(info.value, StateConflict)
    assert info.value.status == 409


def _reachable(start: frozenset[MessageState]) -> set[MessageState]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_state_is_reachable_from_an_initial_state() -> None:
    """No dead entry in the table: each state can actually occur."""
    assert {S.SCHEDULED, S.QUEUED} == INITIAL
    assert _reachable(INITIAL) == set(MessageState)


def test_every_state_can_still_end() -> None:
    """From anywhere a terminal state is reachable, so no message is trapped in a loop."""
    for state in MessageState:
        assert _reachable(frozenset({state})) & TERMINAL


@given(st.sampled_from(sorted(INITIAL)), st.lists(st.sampled_from(list(MessageState))))
def test_random_walks_only_follow_the_table(
    start: MessageState, requests: list[MessageState]
) -> None:
    """Applying arbitrary requested changes through check_transition never leaves the table.

    A refused request raises IllegalTransition and leaves the state unchanged; an accepted
    one is always an allowed pair; and once terminal, the state never moves again.
    """
    state = start
    for dst in requests:
        before = state
        try:
            check_transition(state, dst)
        except IllegalTransition:
            assert (before, dst) not in ALLOWED
        else:
            assert (before, dst) in ALLOWED
            state = dst
        if before in TERMINAL:
            assert state == before


class TestRetryDelay:
    """Exponential backoff for automatic retries of operator errors."""

    def test_first_three_attempts(self) -> None:
        """30 s, 2 min, 8 min: quick first retry, then backing off."""
        assert retry_delay(1) == 30.0
        assert retry_delay(2) == 120.0
        assert retry_delay(3) == 480.0

    def test_max_auto_retries_is_three(self) -> None:
        """Three automatic retries, then the message stays failed."""
        assert MAX_AUTO_RETRIES == 3

    @pytest.mark.parametrize("attempt", [0, -1])
    def test_attempts_start_at_one(self, attempt: int) -> None:
        """Attempt numbers are 1-based; anything lower is a bug in the caller."""
        with pytest.raises(ValueError, match="start at 1"):
            retry_delay(attempt)

    @given(st.integers(min_value=1, max_value=10**6))
    def test_delay_grows_and_is_capped(self, attempt: int) -> None:
        """Delays never shrink, never exceed the cap, and huge attempts don't overflow."""
        delay = retry_delay(attempt)
        assert 30.0 <= delay <= RETRY_DELAY_CAP
        assert retry_delay(attempt + 1) >= delay
