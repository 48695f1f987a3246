"""The log line format, for processes without structlog: the device agent runs on the light
base install (a phone), yet its lines must read like the server's, so that one grep, one log
shipper and one JSON parser serve both.

The shape is structlog's as the server configures it (``simgate.logs``): ``timestamp``,
``level``, ``event`` first, then ``logger``, values quoted as Python literals; or one JSON object
a line.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


class LineFormatter(logging.Formatter):
    """A standard-library formatter writing ``key='value'`` lines, or JSON with ``json=True``."""

    def __init__(self, *, as_json: bool = False) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event: dict[str, Any] = {
            "timestamp": stamp,
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
        }
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        if self.as_json:
            return json.dumps(event, default=str)
        return " ".join(f"{key}={value!r}" for key, value in event.items())
