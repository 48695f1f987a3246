"""The one error of the device protocol: a frame that is not valid protocol-1 JSON."""

from __future__ import annotations


class ProtocolError(ValueError):
    """A frame that is not valid protocol-1 JSON.

    ``code`` is short and stable (``invalid_json``, ``invalid_frame``, ``frame_too_large``) so
    the server can put it straight into the ``error`` frame it answers with; ``field`` names the
    offending field (``"received.at"``) when one is to blame. ``frame_type`` and ``frame_id``
    are what could be read of the refused frame: the server acknowledges a refused frame that
    carries an id, so that the device drops it instead of resending it after every reconnect.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        frame_type: str | None = None,
        frame_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.frame_type = frame_type
        self.frame_id = frame_id
