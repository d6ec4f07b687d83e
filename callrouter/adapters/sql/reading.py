"""What the queries behind the figures share: datetimes read back as UTC (SQLite returns them naive), and
the dashboard's filters as conditions on the `calls` table."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from callrouter.adapters.sql.call_tables import CallRow

CALL_FILTERS = ("organisation", "topic", "location", "line_kind")  # columns of `calls`
_CALLS = CallRow.__table__


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def call_filters(filters: Mapping[str, str | None] | None) -> list[Any]:
    """`calls.<name> == value` for every filter with a value (None or empty: any); ValueError for another name."""
    chosen = {name: value for name, value in (filters or {}).items() if value}
    unknown = set(chosen) - set(CALL_FILTERS)
    if unknown:
        raise ValueError(f"unknown filters {sorted(unknown)}")
    return [_CALLS.c[name] == value for name, value in chosen.items()]
