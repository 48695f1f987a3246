"""What one agent run is told: the server, the token, the state directory, the driver, timings.

Built once by ``simgate agent`` (or by a test) and passed to
:class:`~simgate.agent.runner.AgentRunner`; nothing in the agent reads the environment itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from simgate import __version__
from simgate.agent.drivers.base import Driver

__all__ = ["TRANSPORTS", "AgentConfig", "ReconnectPolicy"]

TRANSPORTS = ("auto", "websocket", "longpoll")


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Backoff between connection attempts.

    The delay starts at ``initial`` and doubles up to ``maximum``; each wait is drawn between
    half the delay and the full delay, so a fleet of phones that lost the server together does
    not hammer it in lockstep when it comes back. A connection that lasted more than
    ``reset_after`` seconds was a good one: the next drop starts again from ``initial``.
    """

    initial: float = 0.2
    maximum: float = 30.0
    reset_after: float = 10.0


@dataclass(slots=True)
class AgentConfig:
    """Everything one agent run needs; built by ``simgate agent`` or by a test.

    ``sims`` and ``capabilities`` default to the driver's. ``on_connected`` is called with the
    device SID after every ``welcome`` (the CLI prints it).
    """

    server: str
    token: str = field(repr=False)
    state_dir: Path | None
    """Where unacknowledged reports and GUID records are kept; None: in memory (a fleet)."""
    driver: Driver
    sims: Sequence[int] | None = None
    capabilities: Sequence[str] | None = None
    version: str = __version__
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    open_timeout: float = 20.0
    welcome_timeout: float = 20.0
    keepalive_interval: float = 20.0
    stop_grace: float = 5.0
    on_connected: Callable[[str], None] | None = None
    keep_done: int = 5000
    """GUID records of acknowledged outcomes kept to recognise a late duplicate ``send``."""
    redact_token: bool = True
    """Filter the token out of the websockets log; False when the caller already filters every
    token of the process once (a fleet: one filter per phone would cost O(phones) a record)."""
    transport: str = "auto"
    """``websocket``, ``longpoll`` (the HTTP fallback), or ``auto``: the WebSocket, and
    long-poll when a proxy refuses the upgrade (tried again at every reconnection)."""
