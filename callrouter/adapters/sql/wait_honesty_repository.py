"""Announced waits in SQL: the `announced` events of a period, with what became of the same calls.

Two reads, whatever the history: the announcements said in the period (an index range on
call_events(kind, at)), and the answered and end events of those calls (the call_id index). The
period is a run of local days (Europe/Amsterdam by default): from midnight to midnight, 23 or 25
hours on the days the clocks change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import RowMapping, select
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.adapters.sql.reading import call_filters, utc
from callrouter.domain.calls import EventKind
from callrouter.domain.statistics_intervals import AMSTERDAM, period_bounds
from callrouter.domain.wait_honesty import AnnouncedCall, Announcement

_CALLS = CallRow.__table__
_EVENTS = CallEventRow.__table__
ANNOUNCED = EventKind.ANNOUNCED.value
AFTER_KINDS = (EventKind.ANSWERED.value, EventKind.NOT_BRIDGED.value, EventKind.ABANDONED.value,
               EventKind.CALLBACK_REQUESTED.value, EventKind.COMPLETED.value)


def _whole_seconds(value: object) -> int | None:
    """A number of seconds from an event's JSON detail; anything else (null, text) is no number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


class SqlWaitHonesty:
    def __init__(self, session_factory: sessionmaker[Session], *, zone: ZoneInfo = AMSTERDAM):
        self._sessions = session_factory
        self.zone = zone

    def announced_calls(self, *, first_day: date, last_day: date,
                        filters: Mapping[str, str | None] | None = None) -> list[AnnouncedCall]:
        """Calls with an announcement said on these local days, matching the filters (organisation, topic,
        location, line_kind of the call); each with those announcements and its answered and end events."""
        start, end = period_bounds(first_day=first_day, last_day=last_day, zone=self.zone)
        joined = _EVENTS.join(_CALLS, _CALLS.c.id == _EVENTS.c.call_id)
        in_period = (_EVENTS.c.kind == ANNOUNCED, _EVENTS.c.at >= utc(start), _EVENTS.c.at < utc(end),
                     *call_filters(filters))
        said = (select(_EVENTS.c.call_id, _EVENTS.c.at, _EVENTS.c.detail, _CALLS.c.organisation)
                .select_from(joined).where(*in_period).order_by(_EVENTS.c.call_id, _EVENTS.c.at, _EVENTS.c.id))
        announced_ids = select(_EVENTS.c.call_id).select_from(joined).where(*in_period)
        after = (select(_EVENTS.c.call_id, _EVENTS.c.kind, _EVENTS.c.at)
                 .where(_EVENTS.c.call_id.in_(announced_ids), _EVENTS.c.kind.in_(AFTER_KINDS)))
        calls: dict[int, tuple[str, list[Announcement]]] = {}
        events: dict[int, list[tuple[str, datetime]]] = {}
        with self._sessions() as session:
            for row in session.execute(said).mappings():
                calls.setdefault(row["call_id"], (row["organisation"] or "", []))[1].append(_announcement(row))
            for row in session.execute(after).mappings():
                events.setdefault(row["call_id"], []).append((row["kind"], utc(row["at"])))
        return [AnnouncedCall.from_events(organisation=org, announcements=said_to, events=events.get(call_id, []))
                for call_id, (org, said_to) in calls.items()]


def _announcement(row: RowMapping) -> Announcement:
    detail = dict(row["detail"] or {})
    return Announcement(at=utc(row["at"]), estimate_s=_whole_seconds(detail.get("estimate_s")),
                        position=_whole_seconds(detail.get("position")),
                        waited_s=_whole_seconds(detail.get("waited_s")))
