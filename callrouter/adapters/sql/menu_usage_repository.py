"""Menu use in SQL: the menu events of a period with the dimensions of their call.

Events are read by kind and time (index `ix_call_events_kind_at`), so the cost follows the period, not
the history; the call row gives line kind, organisation, topic and counter for the filters. Rows come
grouped per call in the order they were written, as callrouter.domain.menu_usage.tally needs them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.domain.menu_usage import KINDS, MenuEvent
from callrouter.domain.statistics_intervals import AMSTERDAM, period_bounds

_CALLS = CallRow.__table__
_EVENTS = CallEventRow.__table__
FILTERS = ("organisation", "topic", "location", "line_kind")  # columns of `calls`
BATCH = 2000


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SqlMenuUsage:
    def __init__(self, session_factory: sessionmaker[Session], *, zone: ZoneInfo = AMSTERDAM):
        self._sessions = session_factory
        self.zone = zone

    def events(self, *, first_day: date, last_day: date, filters: Mapping[str, str | None]) -> Iterator[MenuEvent]:
        """The menu events that happened on these local days (midnight to midnight in the zone, 23 or 25 hours
        on the days the clocks change), of calls matching the filters (`calls` columns; None = any)."""
        start, end = period_bounds(first_day=first_day, last_day=last_day, zone=self.zone)
        unknown = set(filters) - set(FILTERS)
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)[0]}")
        where: list[Any] = [_EVENTS.c.kind.in_([k.value for k in KINDS]), _EVENTS.c.at >= _utc(start),
                            _EVENTS.c.at < _utc(end)]
        where += [_CALLS.c[name] == value for name, value in filters.items() if value]
        query = (select(_EVENTS.c.call_id, _EVENTS.c.kind, _EVENTS.c.detail, _CALLS.c.line_kind, _CALLS.c.organisation)
                 .select_from(_EVENTS.join(_CALLS, _CALLS.c.id == _EVENTS.c.call_id))
                 .where(*where).order_by(_EVENTS.c.call_id, _EVENTS.c.id)
                 .execution_options(yield_per=BATCH))
        with self._sessions() as session:
            for row in session.execute(query).mappings():
                yield MenuEvent(call_id=row["call_id"], line_kind=row["line_kind"], organisation=row["organisation"],
                                kind=row["kind"], detail=dict(row["detail"] or {}))
