"""A list of values bound as one parameter, for statements built once and run many times.

``column.in_([...])`` binds one value per item: the statement's text changes with the list's
length, SQLAlchemy rebuilds its cache key for every new statement object, and both engines
refuse a statement with more than about 32 000 bound values. A hot statement (the dispatcher's
round, the opt-out check of every send) is instead built once, at import, with the whole list in
one bound value: an array on PostgreSQL, a JSON array read by ``json_each`` on SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Text, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine


def member_of(
    column: ColumnElement[Any],
    name: str,
    dialect: str,
    item_type: type[TypeEngine[Any]] = Text,
) -> ColumnElement[bool]:
    """``column`` is one of the values bound as ``name`` (see :func:`list_value`); the items
    are ``item_type`` (text unless told)."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(item_type)))
    values = func.json_each(bindparam(name, type_=Text)).table_valued("value")
    return column.in_(select(values.c.value))


def list_value(values: Iterable[str | int], dialect: str) -> Any:
    """The bound value of a :func:`member_of` parameter on ``dialect``."""
    listed = list(values)
    return listed if dialect == "postgresql" else json.dumps(listed)


#: The dialects statements are built for, by SQLAlchemy's dialect name.
DIALECTS = ("sqlite", "postgresql")
