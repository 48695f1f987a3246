"""structlog set-up: key-value lines on stderr, one logger configuration per process; and the
masking that keeps secrets out of every log line.

Clients put API keys in query strings (``/sendsms/?apikey=...``), so an access log line is a
leak waiting to happen. :func:`mask_secrets` replaces the value of every credential-bearing
parameter and anything shaped like one of simgate's secrets; it runs on uvicorn's access and
error loggers (:class:`SecretMask`) and on every structlog event.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

MASK = "***"
_PARAMETER = re.compile(
    r"(?i)\b(apikey|api_key|client_secret|access_token|refresh_token|token|password|secret)"
    r"(=|%3D)[^&\s\"']*"
)
# Access tokens, OAuth client secrets and device tokens by their prefix, and API keys (48 hex
# characters; message GUIDs are 40 and stay readable).
_SHAPED = re.compile(r"\b(sgat_|sgcs_|sgd_)[A-Za-z0-9_-]+|\b[0-9a-fA-F]{48}\b")


def mask_secrets(text: str) -> str:
    """``text`` with credential parameters' values and secret-shaped words replaced."""
    text = _PARAMETER.sub(lambda match: f"{match.group(1)}{match.group(2)}{MASK}", text)
    return _SHAPED.sub(lambda match: (match.group(1) or "") + MASK, text)


class SecretMask(logging.Filter):
    """Masks secrets in a standard-library record's message and arguments (uvicorn's logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_secrets(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def install_secret_mask(*names: str) -> None:
    """Put :class:`SecretMask` on the named loggers (once each)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(item, SecretMask) for item in logger.filters):
            logger.addFilter(SecretMask())


def _mask_event(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = mask_secrets(value)
    return event


#: The two formats of ``SIMGATE_LOG_FORMAT``: ``key=value`` lines, or one JSON object a line.
LOG_FORMATS = ("text", "json")
# Alembic's chatter on every start, said at info before each upgrade; the "Running upgrade"
# lines stay.
_ALEMBIC_NOISE = ("Context impl", "Will assume")


class _AlembicNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_ALEMBIC_NOISE))


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was configured (a
    test harness, or an embedding app, may swap it afterwards)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_STDERR: Any = _CurrentStderr()


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler :func:`configure_logging` installs (and replaces on a second call)."""


def _renderer(fmt: str) -> structlog.types.Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.processors.KeyValueRenderer(
        key_order=["timestamp", "level", "event"], sort_keys=False
    )


def configure_logging(level: str, fmt: str = "text") -> None:
    """One format for every line of the process: simgate's structlog events and the standard
    library's records (uvicorn, Alembic, SQLAlchemy) alike, masked, as ``key=value`` text or
    JSON (``fmt``)."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer = _renderer(fmt)
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            structlog.processors.format_exc_info,
            _mask_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_STDERR),
        cache_logger_on_first_use=False,
    )
    handler = _OurHandler(_STDERR)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                stamp,
                structlog.stdlib.add_logger_name,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _mask_event,
                renderer,
            ],
        )
    )
    handler.addFilter(_AlembicNoise())
    root = logging.getLogger()
    root.handlers[:] = [item for item in root.handlers if not isinstance(item, _OurHandler)]
    root.addHandler(handler)
    root.setLevel(numeric)


def enabled_for(level: int) -> bool:
    """Whether a line at ``level`` would be written, without building it (the access log asks
    on every request; a filtered ``log.info`` still binds a logger and its arguments first)."""
    wrapper = structlog.get_config()["wrapper_class"]
    if not hasattr(wrapper, "is_enabled_for"):  # someone else's configuration: let it decide
        return True
    return bool(wrapper(None, (), {}).is_enabled_for(level))
