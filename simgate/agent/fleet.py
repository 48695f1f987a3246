"""Many simulated phones in one process: ``simgate agent --driver simulator --tokens-file FILE``.

Benchmarks and load tests need thousands of phones; a process per phone would bury a small
machine (tens of MiB each), and a thread per phone would too. A fleet runs one ordinary
:class:`~simgate.agent.runner.AgentRunner` per token on one event loop, each with its own
connection, so the server sees exactly what real phones do. What makes that scale:

* **state in memory**: each phone's unacknowledged reports and GUID records live in memory
  (``state_dir`` None). A state directory per token would cost a lock file descriptor and
  fsynced writes per phone (20 000 descriptors and minutes of fsyncs for 10 000 phones), to
  protect what a simulated phone does not have: a radio whose sends must survive a restart.
  Within a run, de-duplication by GUID works as for a single agent; after a restart, messages
  that were in flight may be "transmitted" again (they are leased, so the server resends them);
* **jittered start**: phones start at ``connect_rate`` a second, each at a random moment of its
  slot, so the server gets a steady trickle of handshakes instead of 10 000 SYNs at once;
* **bounded memory per phone**: the driver keeps a short list of transmitted messages, the
  outbox file is shared (one descriptor), the GUID records are capped (``keep_done``);
* **one log filter**: the tokens are redacted by one filter for all of them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from simgate.agent.config import AgentConfig
from simgate.agent.drivers.base import Driver
from simgate.agent.runner import AgentAuthError, AgentRunner

__all__ = [
    "DEFAULT_CONNECT_RATE",
    "FLEET_KEEP_DONE",
    "FLEET_KEEP_TRANSMITTED",
    "Fleet",
    "RedactTokens",
    "build_fleet",
    "read_tokens",
]

log = logging.getLogger(__name__)

DEFAULT_CONNECT_RATE = 200.0
"""Phones started per second: a 10 000-phone fleet is up in under a minute, and a server
handshake (token lookup, hello write) every 5 ms leaves it room for its other work."""
_PROGRESS_SECONDS = 2.0
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-.~+/=]{12,}")


def read_tokens(path: Path) -> list[str]:
    """The tokens of a tokens file: one a line; blank lines and ``#`` comments are skipped.

    Raises ``ValueError`` for a file without tokens or with a token twice (two phones with one
    token would keep replacing each other's connection).
    """
    tokens: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        token = line.strip()
        if not token or token.startswith("#"):
            continue
        if token in seen:
            raise ValueError(f"line {number}: this token is already on an earlier line")
        seen.add(token)
        tokens.append(token)
    if not tokens:
        raise ValueError("no token in the file (one a line; # starts a comment)")
    return tokens


class RedactTokens(logging.Filter):
    """Replaces any of many tokens with ``<redacted>`` in log records, at the cost of one scan
    of the message (a set lookup per token-like word), however many tokens there are."""

    def __init__(self, tokens: Sequence[str]) -> None:
        super().__init__()
        self._tokens = frozenset(tokens)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(word in self._tokens for word in _TOKEN_CHARS.findall(message)):
            record.msg = _TOKEN_CHARS.sub(
                lambda match: "<redacted>" if match[0] in self._tokens else match[0], message
            )
            record.args = None
        return True


class Fleet:
    """Runs many agent runners on one event loop until :meth:`stop`.

    ``report`` receives progress lines ("120/10000 phones connected"). A phone whose token the
    server refuses stops alone; :meth:`run` raises :class:`AgentAuthError` only when every
    phone was refused.
    """

    def __init__(
        self,
        runners: Sequence[AgentRunner],
        *,
        connect_rate: float = DEFAULT_CONNECT_RATE,
        report: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if connect_rate <= 0:
            raise ValueError("connect_rate must be > 0")
        self.runners = list(runners)
        self._rate = connect_rate
        self._report = report
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._stop = asyncio.Event()
        self.refused = 0
        """Phones whose token the server refused."""

    @property
    def connected(self) -> int:
        """How many phones have a welcomed connection right now."""
        return sum(runner.connected for runner in self.runners)

    def stop(self) -> None:
        """Stop every phone gracefully; a second call skips the wait for sends in progress.

        Safe to call from a signal handler installed with ``loop.add_signal_handler``.
        """
        self._stop.set()
        for runner in self.runners:
            runner.stop()

    async def run(self) -> None:
        """Start the phones at the connect rate and serve until stopped."""
        phones = [
            asyncio.create_task(self._phone(index, runner), name=f"phone-{index}")
            for index, runner in enumerate(self.runners)
        ]
        progress = asyncio.create_task(self._progress(), name="fleet-progress")
        try:
            await asyncio.gather(*phones)
        finally:
            progress.cancel()
            for task in phones:
                task.cancel()
            await asyncio.gather(progress, *phones, return_exceptions=True)
        if self.runners and self.refused == len(self.runners):
            raise AgentAuthError("the server refused every token of the fleet")

    async def _phone(self, index: int, runner: AgentRunner) -> None:
        # Slot ``index`` of the ramp, at a random moment within it.
        delay = (index + self._rng.random()) / self._rate
        try:
            async with asyncio.timeout(delay):
                await self._stop.wait()
            return  # stopped before this phone started
        except TimeoutError:
            pass
        try:
            await runner.run()
        except AgentAuthError as exc:
            self.refused += 1
            log.error("phone %d of the tokens file stops: %s", index + 1, exc)

    async def _progress(self) -> None:
        """Say how many phones are connected whenever the number changed (every few s)."""
        last = -1
        total = len(self.runners)
        while True:
            await asyncio.sleep(_PROGRESS_SECONDS)
            now = self.connected
            if now != last and self._report is not None:
                self._report(f"{now}/{total} phones connected")
            last = now


#: GUID records kept per phone of a fleet: a few windows' worth, where a lone agent keeps 5000.
FLEET_KEEP_DONE = 256
#: Transmitted messages a fleet phone's driver keeps in memory (the outbox file has them all).
FLEET_KEEP_TRANSMITTED = 16


def build_fleet(
    server: str,
    tokens: Sequence[str],
    driver_for: Callable[[int], Driver],
    *,
    transport: str = "auto",
    connect_rate: float = DEFAULT_CONNECT_RATE,
    report: Callable[[str], None] | None = None,
) -> Fleet:
    """A fleet of one runner per token; ``driver_for(index)`` makes each phone's driver."""
    runners = [
        AgentRunner(
            AgentConfig(
                server=server,
                token=token,
                state_dir=None,
                driver=driver_for(index),
                keep_done=FLEET_KEEP_DONE,
                redact_token=False,
                transport=transport,
            )
        )
        for index, token in enumerate(tokens)
    ]
    return Fleet(runners, connect_rate=connect_rate, report=report)
