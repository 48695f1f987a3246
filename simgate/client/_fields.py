"""Reading one field of a JSON answer, tolerant of the ways compatible servers spell values.

SMSMobileAPI servers are not uniform about types: an ``id`` may be ``12`` or ``"12"``, a flag
``1``, ``"1"`` or ``true``. The parsers accept every such spelling of the *same* value and raise
:class:`FieldError` for anything else, which the client turns into one
``UnexpectedResponseError`` instead of a ``KeyError`` from deep inside.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "FieldError",
    "flag",
    "integer",
    "mapping",
    "mappings",
    "opt_integer",
    "opt_text",
    "text",
]

_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no", ""})


class FieldError(ValueError):
    """A field is missing or holds a value of the wrong kind."""


def _present(obj: Mapping[str, Any], key: str) -> Any:
    if key not in obj:
        raise FieldError(f"missing field {key!r}")
    return obj[key]


def text(obj: Mapping[str, Any], key: str) -> str:
    """A required string; numbers are accepted and written in decimal."""
    value = _present(obj, key)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError(f"field {key!r} is not a string: {value!r}")
    return value if isinstance(value, str) else str(value)


def opt_text(obj: Mapping[str, Any], key: str) -> str | None:
    """A string, or None when the field is absent or null."""
    if obj.get(key) is None:
        return None
    return text(obj, key)


def _as_int(key: str, value: object) -> int:
    if isinstance(value, bool):
        raise FieldError(f"field {key!r} is not a whole number: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise FieldError(f"field {key!r} is not a whole number: {value!r}")


def integer(obj: Mapping[str, Any], key: str) -> int:
    """A required whole number, as a JSON number or a string of digits."""
    return _as_int(key, _present(obj, key))


def opt_integer(obj: Mapping[str, Any], key: str) -> int | None:
    """A whole number, or None when the field is absent, null or an empty string."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    return _as_int(key, value)


def flag(obj: Mapping[str, Any], key: str, default: bool = False) -> bool:
    """A yes/no field (``1``, ``"1"``, ``true``, ``"yes"`` and their opposites)."""
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    spelled = str(value).strip().lower()
    if spelled in _TRUE:
        return True
    if spelled in _FALSE:
        return False
    raise FieldError(f"field {key!r} is not a yes/no value: {value!r}")


def mapping(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A required JSON object."""
    value = _present(obj, key)
    if not isinstance(value, Mapping):
        raise FieldError(f"field {key!r} is not an object")
    return value


def mappings(obj: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """A required array of JSON objects."""
    value = _present(obj, key)
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise FieldError(f"field {key!r} is not an array of objects")
    return value
