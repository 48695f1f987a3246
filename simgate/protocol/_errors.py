"""The one error of the device protocol: a frame that is not valid protocol-1 JSON."""

from __future__ import annotations


class ProtocolError(ValueError):
    """A frame that is not valid protocol-1 JSON.

    ``code`` is short and stable (``invalid_json`` or ``invalid_frame``) so the server can put
    it straight into the ``error`` frame it answers with; the message says what was wrong.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
