"""A message on its way to a device: what the dispatcher hands a session to push."""

from __future__ import annotations

from dataclasses import dataclass

from simgate.domain.channels import Channel


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One claimed message, everything a ``send`` frame carries and nothing else."""

    guid: str
    to: str
    text: str
    sim: int | None
    channel: Channel
    parts: int
