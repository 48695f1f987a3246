"""Field readers: each checks one field of a decoded JSON object and names it when it is wrong.

Every bound of the protocol lives here, once, for both ends: a confused or hostile peer can
neither make the other side store megabytes per field nor hand it a value its database refuses
(a NUL character, an integer past 32 bits, a time in the year 57868). Identifiers must be clean;
free text is normalised instead (NUL characters removed), because refusing a received SMS for a
stray NUL would lose it. The frame classes in :mod:`simgate.protocol._frames` build themselves
from these readers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, cast

from simgate.protocol._errors import ProtocolError

MAX_FRAME_BYTES: Final = 1024 * 1024
"""Largest WebSocket message either end accepts (both ends configure their socket with it)."""
MAX_ID_LENGTH: Final = 128
"""Frame ids, message GUIDs and SIDs."""
MAX_SHORT_TEXT: Final = 256
"""Numbers, versions, labels, error codes, formatted times."""
MAX_TEXT: Final = 40_000
"""An SMS body: 255 concatenated parts of 153 GSM-7 characters fit, with room to spare."""
MAX_SIM: Final = 16
"""Highest SIM slot number: phones have one to four."""
MAX_LIST_ITEMS: Final = 32
"""Longest list (SIM slots, capabilities) in a frame."""
MAX_PARTS: Final = 255
"""A concatenated SMS has at most 255 parts (the user data header counts them in one byte)."""
MAX_MS: Final = 4_102_444_800_000
"""2100-01-01 in Unix milliseconds: a later ``at`` is a unit mistake (micro- or nanoseconds)."""
MAX_SMALL_INT: Final = 2**31 - 1
"""Any other integer fits a signed 32-bit database column."""


def invalid_field(frame_type: str, key: str, expected: str) -> ProtocolError:
    return ProtocolError(
        "invalid_frame",
        f"{frame_type}.{key} must be {expected}",
        field=f"{frame_type}.{key}",
    )


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
    max_length: int = MAX_TEXT,
    truncate: bool = False,
) -> str:
    """A string field, NUL characters removed; longer than ``max_length`` is refused or cut."""
    value = data.get(key, default)
    if not isinstance(value, str):
        raise invalid_field(frame_type, key, "a string")
    if "\x00" in value:
        value = value.replace("\x00", "")
    if non_empty and not value:
        raise invalid_field(frame_type, key, "a non-empty string")
    if len(value) > max_length:
        if not truncate:
            raise invalid_field(frame_type, key, f"at most {max_length} characters")
        value = value[:max_length]
    return value


def read_ident(data: Mapping[str, Any], frame_type: str, key: str) -> str:
    """An identifier: non-empty, at most 128 characters, no NUL (it is a database key)."""
    value = data.get(key)
    if isinstance(value, str) and "\x00" in value:
        raise invalid_field(frame_type, key, "free of NUL characters")
    return read_str(data, frame_type, key, non_empty=True, max_length=MAX_ID_LENGTH)


def read_int(
    data: Mapping[str, Any],
    frame_type: str,
    key: str,
    *,
    default: int | None = None,
    minimum: int = 0,
    maximum: int = MAX_SMALL_INT,
) -> int:
    value = data.get(key, default)
    if not _is_int(value):
        raise invalid_field(frame_type, key, "an integer")
    number = cast(int, value)
    if not minimum <= number <= maximum:
        raise invalid_field(frame_type, key, f"an integer in [{minimum}, {maximum}]")
    return number


def read_opt_int(
    data: Mapping[str, Any],
    frame_type: str,
    key: str,
    *,
    minimum: int = 0,
    maximum: int = MAX_SMALL_INT,
) -> int | None:
    if data.get(key) is None:
        return None
    return read_int(data, frame_type, key, minimum=minimum, maximum=maximum)


def read_ms(data: Mapping[str, Any], frame_type: str, key: str) -> int:
    """A time in Unix milliseconds between 1970 and 2100."""
    # Accept 1.7e12 as well as 1700000000000: some JSON encoders write large integers as floats.
    value = data.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value) or not 0 <= cast(int, value) <= MAX_MS:
        raise invalid_field(
            frame_type, key, f"a time in Unix milliseconds (an integer in [0, {MAX_MS}])"
        )
    return cast(int, value)


def read_bool(data: Mapping[str, Any], frame_type: str, key: str, *, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise invalid_field(frame_type, key, "true or false")
    return value


def read_opt_bool(data: Mapping[str, Any], frame_type: str, key: str) -> bool | None:
    if data.get(key) is None:
        return None
    return read_bool(data, frame_type, key, default=False)


def read_int_tuple(
    data: Mapping[str, Any], frame_type: str, key: str, *, maximum: int = MAX_SIM
) -> tuple[int, ...]:
    value = data.get(key, [])
    if (
        not isinstance(value, list)
        or len(value) > MAX_LIST_ITEMS
        or not all(_is_int(item) and 0 <= item <= maximum for item in value)
    ):
        raise invalid_field(
            frame_type, key, f"a list of at most {MAX_LIST_ITEMS} integers in [0, {maximum}]"
        )
    return tuple(value)


def read_str_tuple(data: Mapping[str, Any], frame_type: str, key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if (
        not isinstance(value, list)
        or len(value) > MAX_LIST_ITEMS
        or not all(
            isinstance(item, str) and 0 < len(item) <= MAX_SHORT_TEXT and "\x00" not in item
            for item in value
        )
    ):
        raise invalid_field(
            frame_type,
            key,
            f"a list of at most {MAX_LIST_ITEMS} non-empty strings of at most "
            f"{MAX_SHORT_TEXT} characters",
        )
    return tuple(value)
