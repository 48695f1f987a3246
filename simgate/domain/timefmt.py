"""Time formats of the SMSMobileAPI-compatible API, computed from UTC UNIX milliseconds.

The store keeps integers; every string a client sees is made here, so the formats cannot drift
between endpoints.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso_utc(ms: int) -> str:
    """ISO 8601 in UTC with a ``Z``, second precision: ``2026-03-13T08:45:12Z``."""
    return _iso_second(ms // 1000)


# Every answer of a busy second carries the same stamps: each is formatted once per second.
@lru_cache(maxsize=8)
def _iso_second(seconds: int) -> str:
    return utc(seconds * 1000).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(ms: int, zone: tzinfo) -> datetime:
    return utc(ms).astimezone(zone)


def date_str(ms: int, zone: tzinfo) -> str:
    return local(ms, zone).strftime("%Y-%m-%d")


def hour_str(ms: int, zone: tzinfo) -> str:
    return local(ms, zone).strftime("%H:%M:%S")


def datetime_str(ms: int, zone: tzinfo) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in ``zone``: the reference API's human date-time format."""
    return _local_second(ms // 1000, zone)


@lru_cache(maxsize=8)
def _local_second(seconds: int, zone: tzinfo) -> str:
    return local(seconds * 1000, zone).strftime("%Y-%m-%d %H:%M:%S")


def unix_seconds(ms: int) -> int:
    return ms // 1000


def midnight_ms(day: date, zone: tzinfo) -> int:
    """The first millisecond of ``day`` in ``zone`` (UTC ms), DST transitions included."""
    return int(datetime.combine(day, time.min, tzinfo=zone).timestamp() * 1000)


def today_start_ms(now_ms: int, zone: tzinfo) -> int:
    """The UTC milliseconds of the last midnight in ``zone``: where "today" starts there."""
    return midnight_ms(local(now_ms, zone).date(), zone)
