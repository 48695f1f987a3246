"""The send path: from the server's ``send`` frame to the radio and back as ``sent``/``failed``.

``send`` is answered with ``accepted`` at once; the message then goes to the driver in its own
task, so a slow send never holds up the others, and its outcome is reported when it finishes.
Messages are de-duplicated by GUID through the outbox's records: the server resends unconfirmed
messages after every reconnect, and a GUID already transmitted is never handed to the radio
again; its outcome is reported again instead.
"""

from __future__ import annotations

import asyncio
import logging

from simgate.agent.connection import Connection
from simgate.agent.drivers.base import Driver, OutgoingSms, RadioOutcome
from simgate.agent.outbox import Outbox
from simgate.protocol import AcceptedFrame, SendFrame

__all__ = ["Transmitter"]

log = logging.getLogger(__name__)


class Transmitter:
    """Takes ``send`` frames (:meth:`on_send`) and runs each new GUID's transmission as a task.

    ``sims`` and ``capabilities`` are what this device announced in ``hello``; a message it
    cannot even try fails at once, without reaching the driver.
    """

    def __init__(
        self,
        driver: Driver,
        outbox: Outbox,
        *,
        sims: tuple[int, ...],
        capabilities: tuple[str, ...],
    ) -> None:
        self._driver = driver
        self._outbox = outbox
        self._sims = sims
        self._capabilities = capabilities
        self.accepting = True
        """False once the agent is stopping: new ``send`` frames are then left unanswered."""
        self.inflight: set[asyncio.Task[None]] = set()
        """Transmissions in progress (a stopping agent waits for them, then cancels them)."""

    async def on_send(self, conn: Connection, request: SendFrame) -> None:
        """Answer ``send`` on ``conn``: transmit a new GUID, report a known one's outcome again."""
        guid = request.guid
        if not self.accepting:
            # Not accepted: the server will dispatch it again after this agent reconnects.
            log.info("not taking %s: the agent is stopping", guid)
            return
        await conn.send(AcceptedFrame(guid=guid))
        record = self._outbox.record(guid)
        if record is None or record.may_transmit_again:
            self._outbox.begin(guid)  # in memory now; on disk before the radio sees it
            task = asyncio.create_task(self._transmit(request), name=f"transmit-{guid}")
            self.inflight.add(task)
            task.add_done_callback(self._transmit_done)
            return
        if record.state == "sending":
            log.debug("%s is already being sent", guid)
            return
        log.info("%s was already %s: reporting it again, not sending it", guid, record.state)
        if record.frame_id is None:
            self._outbox.report_again(guid)  # the flusher writes it, the writer then sends it
            return
        item = self._outbox.pending(record.frame_id)
        if item is not None and item.seq <= conn.sent_upto:
            await conn.send(item.frame)  # otherwise the writer is about to send it anyway

    def _transmit_done(self, task: asyncio.Task[None]) -> None:
        self.inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("agent task %s crashed", task.get_name(), exc_info=task.exception())

    def _refusal(self, request: SendFrame) -> str | None:
        """Why this device cannot even try ``request`` (None: it can)."""
        capabilities = set(self._capabilities)
        if request.channel == "sms" and "sms" not in capabilities:
            return "this device cannot send SMS"
        if request.channel == "whatsapp" and "whatsapp" not in capabilities:
            return "this device cannot send WhatsApp messages"
        if request.channel == "both" and not capabilities & {"sms", "whatsapp"}:
            return "this device can send neither SMS nor WhatsApp messages"
        if request.sim is not None and self._sims and request.sim not in self._sims:
            available = ", ".join(str(sim) for sim in self._sims)
            return f"SIM {request.sim} is not available on this device (it has {available})"
        return None

    async def _transmit(self, request: SendFrame) -> None:
        refusal = self._refusal(request)
        outcome: RadioOutcome
        if refusal is not None:
            log.warning("cannot send %s: %s", request.guid, refusal)
            outcome = RadioOutcome.failure(refusal, operator=False)
        else:
            try:
                await self._outbox.commit()  # the GUID is on disk as "sending" before the radio
            except asyncio.CancelledError:
                self._outbox.forget(request.guid)  # stopped before the radio saw it
                raise
            message = OutgoingSms(
                guid=request.guid,
                to=request.to,
                text=request.text,
                sim=request.sim,
                channel=request.channel,
                parts=request.parts,
            )
            try:
                outcome = await self._driver.send(message)
            except Exception as exc:
                log.exception("the %s driver failed to send %s", self._driver.name, request.guid)
                outcome = RadioOutcome.failure(
                    f"{self._driver.name} driver error: {exc}", operator=False
                )
        self._outbox.finish(
            request.guid,
            ok=outcome.ok,
            sim=outcome.sim if outcome.sim is not None else request.sim,
            at=outcome.at_ms,
            error=outcome.error,
            operator=outcome.operator,
        )
        await self._outbox.commit()
        if outcome.ok:
            log.info("%s sent", request.guid)
        else:
            log.info("%s failed: %s", request.guid, outcome.error)
