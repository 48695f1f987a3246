"""Field readers: each checks one field of a decoded JSON object and names it when it is wrong.

A peer that sends garbage then gets a precise ``error`` frame instead of a crash deep in a
handler. The frame classes in :mod:`simgate.protocol._frames` build themselves from these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

from simgate.protocol._errors import ProtocolError

# Identifiers and free text are bounded so that a confused or hostile peer cannot make the
# other side store megabytes per field; the WebSocket frame size limit bounds the rest.
MAX_ID_LENGTH: Final = 128
MAX_SHORT_TEXT: Final = 256


def invalid_field(frame_type: str, key: str, expected: str) -> ProtocolError:
    return ProtocolError("invalid_frame", f"{frame_type}.{key} must be {expected}")


def _is_int(value: object) -> bool:
    # bool is a subclass of int in Python, but true/false is never a valid number on the wire.
    return isinstance(value, int) and not isinstance(value, bool)


def read_str(
    data: Mapping[str, Any],
    frame_type: str,
    key: str,
    *,
    default: str | None = None,
    non_empty: bool = False,
    max_length: int | None = None,
) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise invalid_field(frame_type, key, "a string")
    if non_empty and not value:
        raise invalid_field(frame_type, key, "a non-empty string")
    if max_length is not None and len(value) > max_length:
        raise invalid_field(frame_type, key, f"at most {max_length} characters")
    return value


def read_ident(data: Mapping[str, Any], frame_type: str, key: str) -> str:
    return read_str(data, frame_type, key, non_empty=True, max_length=MAX_ID_LENGTH)


def read_int(
    data: Mapping[str, Any],
    frame_type: str,
    key: str,
    *,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    value = data.get(key, default)
    if not _is_int(value):
        raise invalid_field(frame_type, key, "an integer")
    number = cast(int, value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise invalid_field(frame_type, key, f"an integer in [{minimum}, {maximum}]")
    return number


def read_opt_int(
    data: Mapping[str, Any], frame_type: str, key: str, *, minimum: int, maximum: int | None = None
) -> int | None:
    if data.get(key) is None:
        return None
    return read_int(data, frame_type, key, minimum=minimum, maximum=maximum)


def read_ms(data: Mapping[str, Any], frame_type: str, key: str) -> int:
    # Accept 1.7e12 as well as 1700000000000: some JSON encoders write large integers as floats.
    value = data.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value) or cast(int, value) < 0:
        raise invalid_field(frame_type, key, "a non-negative integer (Unix milliseconds)")
    return cast(int, value)


def read_bool(data: Mapping[str, Any], frame_type: str, key: str, *, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise invalid_field(frame_type, key, "true or false")
    return value


def read_int_tuple(data: Mapping[str, Any], frame_type: str, key: str) -> tuple[int, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(_is_int(item) and item >= 0 for item in value):
        raise invalid_field(frame_type, key, "a list of non-negative integers")
    return tuple(value)


def read_str_tuple(data: Mapping[str, Any], frame_type: str, key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid_field(frame_type, key, "a list of strings")
    return tuple(value)
