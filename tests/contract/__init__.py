"""JSON Schemas of the SMSMobileAPI-compatible API, and ``validate`` to check a body against one.

Two families live in ``schemas/``, one file per schema, named ``<family>.<Name>.json``:

- ``official.*``: transcribed 1:1 from the components of the official SMSMobileAPI OpenAPI 3.1
  document (version 2026-09-23, by SMSMobileAPI, MIT licence), as loose as the original is.
- ``simgate.*``: simgate's stricter contract, written from ``shared/API-NOTES.md`` ("Responses"
  and "Errors") and the developer documentation's examples.

Each file's ``$comment`` names its source. The schemas are kept in the repository so that tests
never read ``shared/`` at run time. Usage from any test::

    from tests.contract import validate

    validate(response.json(), "simgate.SendSuccess")
    validate(response.json(), "official.SendMessageResponse")

A schema may refer to another by its ``$id`` (``urn:simgate:contract:<name>``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.exceptions import relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["SCHEMAS", "SCHEMA_DIR", "ContractError", "schema_id", "validate"]

SCHEMA_DIR = Path(__file__).parent / "schemas"

_ID_PREFIX = "urn:simgate:contract:"


def schema_id(name: str) -> str:
    """The ``$id`` that the schema called ``name`` carries (and that ``$ref`` uses)."""
    return _ID_PREFIX + name


def _load() -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schemas[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return schemas


SCHEMAS: dict[str, dict[str, Any]] = _load()

_REGISTRY: Registry[Any] = Registry().with_resources(
    (schema_id(name), Resource.from_contents(schema, default_specification=DRAFT202012))
    for name, schema in SCHEMAS.items()
)

# jsonschema checks "date-time" only when the optional rfc3339-validator is installed, and skips
# it silently otherwise. The contract must not depend on that, so RFC 3339 is checked here.
_FORMAT_CHECKER = FormatChecker(formats=())
_FORMAT_CHECKER.checkers.update(Draft202012Validator.FORMAT_CHECKER.checkers)
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)


@_FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_rfc3339_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True  # format applies to strings only; "type" judges the rest.
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper())  # month 13, day 32, hour 24 ... raise ValueError.
    return True


@cache
def _validator(name: str) -> Draft202012Validator:
    try:
        schema = SCHEMAS[name]
    except KeyError:
        known = ", ".join(sorted(SCHEMAS))
        raise KeyError(f"no contract schema {name!r}; known: {known}") from None
    return Draft202012Validator(schema, registry=_REGISTRY, format_checker=_FORMAT_CHECKER)


class ContractError(ValidationError):
    """A ``ValidationError`` whose text is a short list of every problem, not a schema dump."""

    #: Every problem found, the most relevant first.
    problems: list[ValidationError]

    def __str__(self) -> str:
        return self.message


def _describe(error: ValidationError) -> str:
    if error.validator == "not":
        # jsonschema's own text repeats the whole instance; the forbidden shape says more.
        forbidden = json.dumps(error.validator_value, separators=(", ", ": "))
        return f"must not match {forbidden}"
    return error.message


_MAX_LISTED = 10
_MAX_LINE = 240


def validate(instance: object, name: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` satisfies the schema ``name``.

    The message names the schema and lists each problem (the most relevant first) with the JSON
    path of the offending value. The raised error carries the attributes of the most relevant
    problem (``path``, ``validator``, ``schema_path``, ...) and all of them in ``problems``.
    """
    errors = sorted(_validator(name).iter_errors(instance), key=relevance, reverse=True)
    if not errors:
        return
    lines = [f"{name}: {len(errors)} problem{'s' if len(errors) > 1 else ''}"]
    for error in errors[:_MAX_LISTED]:
        line = f"  at {error.json_path}: {_describe(error)}"
        lines.append(line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 3] + "...")
    if len(errors) > _MAX_LISTED:
        lines.append(f"  ... and {len(errors) - _MAX_LISTED} more")
    best = errors[0]
    failure = ContractError(
        "\n".join(lines),
        validator=best.validator,
        path=best.path,
        cause=best.cause,
        validator_value=best.validator_value,
        instance=best.instance,
        schema=best.schema,
        schema_path=best.schema_path,
    )
    failure.problems = errors
    raise failure
