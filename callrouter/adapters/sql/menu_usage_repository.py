"""Menu use in SQL: the menu events of a period with the dimensions of their call.

Events are read by kind and time (index `ix_call_events_kind_at`), so the cost follows the period, not
the history; the call row gives line kind, organisation, topic and counter for the filters. Rows come
grouped per call in the order they were written, as callrouter.domain.menu_usage.tally needs them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.adapters.sql.reading import call_filters, utc
from callrouter.domain.menu_usage import KINDS, MenuEvent
from callrouter.domain.statistics_intervals import AMSTERDAM, period_bounds

_CALLS = CallRow.__table__
_EVENTS = CallEventRow.__table__
BATCH = 2000


class SqlMenuUsage:
    def __init__(self, session_factory: sessionmaker[Session], *, zone: ZoneInfo = AMSTERDAM):
        self._sessions = session_factory
        self.zone = zone

    def events(self, *, first_day: date, last_day: date, filters: Mapping[str, str | None]) -> Iterator[MenuEvent]:
        """The menu events that happened on these local days (midnight to midnight in the zone, 23 or 25 hours
        on the days the clocks change), of calls matching the filters (`calls` columns; None = any)."""
        start, end = period_bounds(first_day=first_day, last_day=last_day, zone=self.zone)
        where: list[Any] = [_EVENTS.c.kind.in_([k.value for k in KINDS]), _EVENTS.c.at >= utc(start),
                            _EVENTS.c.at < utc(end), *call_filters(filters)]
        query = (select(_EVENTS.c.call_id, _EVENTS.c.kind, _EVENTS.c.detail, _CALLS.c.line_kind, _CALLS.c.organisation)
                 .select_from(_EVENTS.join(_CALLS, _CALLS.c.id == _EVENTS.c.call_id))
                 .where(*where).order_by(_EVENTS.c.call_id, _EVENTS.c.id)
                 .execution_options(yield_per=BATCH))
        with self._sessions() as session:
            for row in session.execute(query).mappings():
                yield MenuEvent(call_id=row["call_id"], line_kind=row["line_kind"], organisation=row["organisation"],
                                kind=row["kind"], detail=dict(row["detail"] or {}))
