"""Routing plans: eligibility first, then each policy's choice (pure, no server)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from simgate.domain.routing import Candidate, Policy, Seat, eligible, plan, ports_served

SMS = frozenset({"sms"})
ALL = frozenset({"sms", "whatsapp", "both"})


def seat(sid: str, room: int = 10, *, load: int = 0, sims: tuple[int, ...] = ()) -> Seat:
    return Seat(sid=sid, channels=SMS, sims=frozenset(sims), room=room, load=load)


def messages(count: int, **fields: Any) -> list[Candidate]:
    return [
        Candidate(id=index, recipient=f"+3247000{index:04d}", channel="sms", **fields)
        for index in range(count)
    ]


class TestRoundRobin:
    def test_devices_take_turns_message_by_message(self) -> None:
        chosen = plan(Policy.ROUND_ROBIN, [seat("a"), seat("b"), seat("c")], messages(6))
        assert chosen == {"a": [0, 3], "b": [1, 4], "c": [2, 5]}

    def test_the_turn_rotates_who_starts(self) -> None:
        chosen = plan(Policy.ROUND_ROBIN, [seat("a"), seat("b")], messages(1), turn=1)
        assert chosen == {"b": [0]}

    def test_a_full_device_is_skipped(self) -> None:
        chosen = plan(Policy.ROUND_ROBIN, [seat("a", room=1), seat("b")], messages(4))
        assert chosen == {"a": [0], "b": [1, 2, 3]}


class TestLeastLoaded:
    def test_the_device_with_fewest_in_flight_takes_the_next(self) -> None:
        seats = [seat("busy", load=5), seat("idle", load=0)]
        chosen = plan(Policy.LEAST_LOADED, seats, messages(7))
        assert Counter({sid: len(ids) for sid, ids in chosen.items()}) == {"idle": 6, "busy": 1}


class TestSticky:
    def test_a_recipient_stays_on_the_number_of_its_conversation(self) -> None:
        [message] = messages(1)
        chosen = plan(
            Policy.STICKY, [seat("a"), seat("b")], [message], homes={message.recipient: "b"}
        )
        assert chosen == {"b": [0]}

    def test_it_waits_for_room_on_its_number_rather_than_moving(self) -> None:
        [message] = messages(1)
        chosen = plan(
            Policy.STICKY,
            [seat("a"), seat("b", room=0)],
            [message],
            homes={message.recipient: "b"},
        )
        assert chosen == {}

    def test_when_its_number_is_offline_another_takes_it(self) -> None:
        [message] = messages(1)
        chosen = plan(Policy.STICKY, [seat("a")], [message], homes={message.recipient: "gone"})
        assert chosen == {"a": [0]}


class TestEligibility:
    def test_a_pinned_message_goes_only_to_its_device(self) -> None:
        chosen = plan(Policy.ROUND_ROBIN, [seat("a"), seat("b")], messages(3, requested_sid="b"))
        assert chosen == {"b": [0, 1, 2]}

    def test_the_port_picks_a_device_with_that_sim(self) -> None:
        seats = [seat("one", sims=(1,)), seat("two", sims=(1, 2))]
        assert plan(Policy.ROUND_ROBIN, seats, messages(2, port=2)) == {"two": [0, 1]}

    def test_whatsapp_needs_a_whatsapp_device(self) -> None:
        wa = Seat(sid="wa", channels=ALL, sims=frozenset(), room=5)
        message = Candidate(id=1, recipient="+1", channel="whatsapp")
        assert plan(Policy.ROUND_ROBIN, [seat("a"), wa], [message]) == {"wa": [1]}

    def test_a_retry_prefers_another_device(self) -> None:
        message = Candidate(id=1, recipient="+1", channel="sms", retries=1, last_sid="a")
        assert plan(Policy.ROUND_ROBIN, [seat("a"), seat("b")], [message]) == {"b": [1]}
        assert plan(Policy.ROUND_ROBIN, [seat("a")], [message]) == {"a": [1]}


seats_strategy = st.lists(
    st.builds(
        Seat,
        sid=st.sampled_from("abcde"),
        channels=st.sampled_from([SMS, ALL]),
        sims=st.frozensets(st.integers(1, 2)),
        room=st.integers(0, 5),
        load=st.integers(0, 5),
    ),
    max_size=5,
    unique_by=lambda item: item.sid,
)
candidates_strategy = st.lists(
    st.builds(
        Candidate,
        id=st.integers(0, 10_000),
        recipient=st.sampled_from(["+1", "+2", "+3"]),
        channel=st.sampled_from(["sms", "whatsapp", "both"]),
        requested_sid=st.none() | st.sampled_from("abz"),
        port=st.none() | st.integers(1, 2),
        retries=st.integers(0, 2),
        last_sid=st.none() | st.sampled_from("ab"),
    ),
    max_size=30,
    unique_by=lambda item: item.id,
)


class TestEveryPlan:
    @given(
        st.sampled_from(list(Policy)),
        seats_strategy,
        candidates_strategy,
        st.dictionaries(st.sampled_from(["+1", "+2", "+3"]), st.sampled_from("abcz")),
    )
    def test_never_over_room_never_twice_always_eligible(
        self,
        policy: Policy,
        seats: list[Seat],
        candidates: list[Candidate],
        homes: dict[str, str],
    ) -> None:
        chosen = plan(policy, seats, candidates, homes=homes)
        by_sid = {item.sid: item for item in seats}
        by_id = {item.id: item for item in candidates}
        every = [id_ for ids in chosen.values() for id_ in ids]
        assert len(every) == len(set(every))
        for sid, ids in chosen.items():
            assert len(ids) <= by_sid[sid].room
            assert all(eligible(by_sid[sid], by_id[id_]) for id_ in ids)


def test_ports_served_are_the_union_of_the_announced_sims() -> None:
    assert ports_served([frozenset({1}), frozenset({1, 2})]) == {1, 2}
    assert ports_served([frozenset({1})]) == {1}
    assert ports_served([]) == frozenset()


def test_a_device_that_did_not_say_its_sims_serves_every_port() -> None:
    assert ports_served([frozenset({1}), frozenset()]) is None
