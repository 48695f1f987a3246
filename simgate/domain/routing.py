"""Which connected device sends which waiting message: the routing policies, as pure planning.

The dispatcher reads the oldest due messages of an account (:class:`Candidate`) and what each
connected device can take now (:class:`Seat`), and :func:`plan` decides; the store then claims
exactly those rows, guarded by their state, so a plan made on stale data can only claim less,
never twice. Keeping the decision pure makes every policy testable without a server.

Eligibility comes first, whatever the policy: the device serves the message's channel, it is the
pinned device when ``sIdentifiant`` named one, and it has the SIM that ``port`` asked for. A
retry after an operator error prefers another device than the one that failed, when one is
eligible. Then:

* ``round_robin`` (the default): devices take turns, message by message;
* ``least_loaded``: the device with the fewest messages in flight takes the next one;
* ``sticky``: a recipient already in a conversation with one of the account's numbers (the
  last message to or from them went through that device) stays on it while it is connected,
  waiting for room there rather than moving to another number; others go round robin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Policy(StrEnum):
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"
    STICKY = "sticky"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A due message as routing sees it."""

    id: int
    recipient: str
    channel: str
    requested_sid: str | None = None
    port: int | None = None
    retries: int = 0
    #: The device that last tried it (a retry prefers another one).
    last_sid: str | None = None


@dataclass(frozen=True, slots=True)
class Seat:
    """A connected device as routing sees it: what it serves and how much it may take now."""

    sid: str
    channels: frozenset[str]
    #: SIM slots it announced; empty when unknown (then any ``port`` is let through).
    sims: frozenset[int]
    room: int
    load: int = 0


def eligible(seat: Seat, message: Candidate) -> bool:
    return (
        message.channel in seat.channels
        and (message.requested_sid is None or message.requested_sid == seat.sid)
        and (message.port is None or not seat.sims or message.port in seat.sims)
    )


def ports_served(sims: Iterable[frozenset[int]]) -> frozenset[int] | None:
    """The SIM ports some of these devices can send a message on; None when one of them did
    not say which SIMs it has (it is let through any port, as :func:`eligible` does)."""
    served: set[int] = set()
    for announced in sims:
        if not announced:
            return None
        served |= announced
    return frozenset(served)


def plan(
    policy: Policy,
    seats: Sequence[Seat],
    candidates: Sequence[Candidate],
    *,
    turn: int = 0,
    homes: Mapping[str, str] | None = None,
) -> dict[str, list[int]]:
    """Message ids per device SID, oldest messages first; nothing for a message no one can take.

    ``turn`` rotates where round robin starts, so successive plans spread evenly; ``homes``
    maps a recipient to the SID of its conversation (used by ``sticky``).
    """
    if not seats:
        return {}
    start = turn % len(seats)
    order = list(seats[start:]) + list(seats[:start])
    position = {seat.sid: index for index, seat in enumerate(order)}
    room = {seat.sid: seat.room for seat in order}
    load = {seat.sid: seat.load for seat in order}
    by_sid = {seat.sid: seat for seat in order}
    homes = homes or {}
    chosen: dict[str, list[int]] = {}
    pointer = 0
    for message in candidates:
        if not any(room.values()):
            break
        if policy is Policy.STICKY:
            home = by_sid.get(homes.get(message.recipient, ""))
            if home is not None and eligible(home, message):
                if room[home.sid] > 0:
                    _take(chosen, room, load, home.sid, message.id)
                continue  # its number is connected: wait for room there
        options = [seat for seat in order if room[seat.sid] > 0 and eligible(seat, message)]
        if not options:
            continue
        if message.retries and message.last_sid is not None and len(options) > 1:
            options = [seat for seat in options if seat.sid != message.last_sid] or options
        if policy is Policy.LEAST_LOADED:
            pick = min(options, key=lambda seat: (load[seat.sid], position[seat.sid]))
        else:
            # The first option at or after the pointer, in the rotated order.
            pick = min(options, key=lambda seat: (position[seat.sid] - pointer) % len(order))
            pointer = (position[pick.sid] + 1) % len(order)
        _take(chosen, room, load, pick.sid, message.id)
    return chosen


def _take(
    chosen: dict[str, list[int]], room: dict[str, int], load: dict[str, int], sid: str, id_: int
) -> None:
    chosen.setdefault(sid, []).append(id_)
    room[sid] -= 1
    load[sid] += 1
