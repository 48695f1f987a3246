"""SMS the owner typed on a phone itself (the log read by ``/log/sent/frommobile/``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from simgate.store._sql import like_pattern
from simgate.store.tables import mobile_sent

SortField = Literal[
    "device_sid", "number", "text", "mobile_date_ms", "mobile_date_formatted", "synchro_ms"
]


async def insert_once(conn: AsyncConnection, row: Mapping[str, Any]) -> tuple[RowMapping, bool]:
    """Store a reported SMS unless its ``dedup_key`` is already stored.

    Returns the stored row and whether it is new, so a frame the device resends after a lost
    ack is acknowledged again without a second row.
    """
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    result = await conn.execute(
        dialect_insert(mobile_sent)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(mobile_sent)
    )
    created = result.mappings().first()
    if created is not None:
        return created, True
    existing = await conn.execute(
        select(mobile_sent).where(mobile_sent.c.dedup_key == row["dedup_key"])
    )
    return existing.mappings().one(), False


@dataclass(frozen=True)
class Filters:
    """What the SQL can filter on; times are UTC ms, ranges half-open ``[from, to)``."""

    synchro_from_ms: int
    mobile_from_ms: int | None = None
    mobile_to_ms: int | None = None
    device_sid: str | None = None
    number_exact: str | None = None
    number_part: str | None = None
    text_part: str | None = None


def _select(account_id: int, filters: Filters) -> Select[Any]:
    columns = mobile_sent.c
    query = select(mobile_sent).where(
        columns.account_id == account_id, columns.synchro_ms >= filters.synchro_from_ms
    )
    if filters.mobile_from_ms is not None:
        query = query.where(columns.mobile_date_ms >= filters.mobile_from_ms)
    if filters.mobile_to_ms is not None:
        query = query.where(columns.mobile_date_ms < filters.mobile_to_ms)
    if filters.device_sid is not None:
        query = query.where(columns.device_sid == filters.device_sid)
    if filters.number_exact is not None:
        query = query.where(columns.number == filters.number_exact)
    if filters.number_part is not None:
        query = query.where(columns.number.ilike(like_pattern(filters.number_part), escape="\\"))
    if filters.text_part is not None:
        query = query.where(columns.text.ilike(like_pattern(filters.text_part), escape="\\"))
    return query


async def list_rows(
    conn: AsyncConnection,
    account_id: int,
    filters: Filters,
    *,
    sort: SortField,
    descending: bool,
    limit: int | None,
) -> Sequence[RowMapping]:
    """Matching rows in the requested order; ``limit=None`` returns every match.

    Rows equal on the sort field keep a stable order (by id, in the same direction), so two
    identical requests always list the same rows.
    """
    column = mobile_sent.c[sort]
    tiebreak = mobile_sent.c.id
    order = (column.desc(), tiebreak.desc()) if descending else (column.asc(), tiebreak.asc())
    query = _select(account_id, filters).order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    result = await conn.execute(query)
    rows: Sequence[RowMapping] = result.mappings().all()
    return rows
