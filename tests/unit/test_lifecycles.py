"""The device session lifecycle table and the message table read backwards."""

from __future__ import annotations

import pytest

from simgate.devices.lifecycle import (
    SESSION_TRANSITIONS,
    IllegalSessionTransition,
    SessionState,
    next_state,
)
from simgate.domain.states import TRANSITIONS, MessageState, sources


class TestSessionLifecycle:
    @pytest.mark.parametrize("current", list(SessionState))
    @pytest.mark.parametrize("wanted", list(SessionState))
    def test_only_the_moves_in_the_table_are_allowed(
        self, current: SessionState, wanted: SessionState
    ) -> None:
        if wanted is current or wanted in SESSION_TRANSITIONS[current]:
            assert next_state(current, wanted) is wanted
        else:
            with pytest.raises(IllegalSessionTransition):
                next_state(current, wanted)

    def test_a_closed_session_never_comes_back(self) -> None:
        assert SESSION_TRANSITIONS[SessionState.CLOSED] == frozenset()
        with pytest.raises(IllegalSessionTransition):
            next_state(SessionState.CLOSED, SessionState.LIVE)


class TestSources:
    @pytest.mark.parametrize("dst", list(MessageState))
    def test_sources_are_exactly_the_states_the_table_lets_move_to_dst(
        self, dst: MessageState
    ) -> None:
        assert sources(dst) == {src for src in MessageState if dst in TRANSITIONS[src]}

    def test_nothing_becomes_sent_without_being_dispatched(self) -> None:
        assert sources(MessageState.SENT) == {MessageState.DISPATCHED}
