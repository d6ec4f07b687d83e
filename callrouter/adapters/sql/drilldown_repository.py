"""The drill-down in SQL: the calls of a period (by `calls.received_at`, indexed) with their events, the
callbacks asked for in a period, one call with its events and recorded outcome, liaison names.

Phone numbers: calls are read by their masked number only; a callback's number is masked as it is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.adapters.sql.callback_tables import CallbackEventRow, CallbackRow
from callrouter.adapters.sql.directory_tables import LiaisonRow
from callrouter.adapters.sql.reading import utc
from callrouter.adapters.sql.staff_tables import ConversationOutcomeRow
from callrouter.domain.calls import EventKind, PriorityClass
from callrouter.domain.privacy import mask_number
from callrouter.domain.statistics import Event
from callrouter.domain.statistics_drilldown import CallbackLine, DrillCall
from callrouter.domain.statistics_totals import Dimensions

_CALLS = CallRow.__table__
_EVENTS = CallEventRow.__table__
_CALLBACKS = CallbackRow.__table__
_CALLBACK_EVENTS = CallbackEventRow.__table__
_LINE_KIND = {PriorityClass.PROFESSIONAL.value: "professional", PriorityClass.CITIZEN.value: "citizen"}


@dataclass(frozen=True)
class RecordedOutcome:
    """The liaison's recorded outcome of a conversation (its free-text note is not read)."""

    result: str
    referred_organisation: str | None


def _dims(row: RowMapping, *, line_kind: str | None = None) -> Dimensions:
    return Dimensions(organisation=row["organisation"] or "", topic=row["topic"] or "",
                      location=row["location"] or "", line_kind=line_kind or row["line_kind"] or "")


def _call_filters(filters: Mapping[str, str]) -> list[Any]:
    """The row's counter and line kind; its organisation and topic, or any transferred call (whose parts the
    domain matches: the row names only the last organisation)."""
    row = [_CALLS.c[name] == value for name, value in filters.items() if name not in ("organisation", "topic")]
    part = [_CALLS.c[name] == value for name, value in filters.items() if name in ("organisation", "topic")]
    if not part:
        return row
    moved = _EVENTS.alias("transfer_events")  # apart from the events the call is read with
    transferred = (select(moved.c.id).where(moved.c.call_id == _CALLS.c.id, moved.c.kind == EventKind.TRANSFERRED.value)
                   .correlate(_CALLS).exists())
    return [*row, or_(and_(*part), transferred)]


class SqlDrilldown:
    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory

    def count_calls(self, *, start: datetime, end: datetime, filters: Mapping[str, str]) -> int:
        """How many calls arrived in [start, end) matching the filters (an index range on received_at)."""
        with self._sessions() as session:
            query = select(func.count()).select_from(_CALLS).where(
                _CALLS.c.received_at >= utc(start), _CALLS.c.received_at < utc(end), *_call_filters(filters))
            return int(session.execute(query).scalar() or 0)

    def calls(self, *, start: datetime, end: datetime, filters: Mapping[str, str]) -> list[DrillCall]:
        """The calls that arrived in [start, end) matching the filters, with their events."""
        where = and_(_CALLS.c.received_at >= utc(start), _CALLS.c.received_at < utc(end), *_call_filters(filters))
        with self._sessions() as session:
            return self._with_events(session.connection(), where)

    def call(self, ref: str) -> DrillCall | None:
        """One call by its sid, or by its id when `ref` is all digits."""
        where = _CALLS.c.id == int(ref) if ref.isdigit() and len(ref) < 12 else _CALLS.c.sid == ref
        with self._sessions() as session:
            found = self._with_events(session.connection(), where)
        return found[0] if found else None

    @staticmethod
    def _with_events(conn: Connection, where: Any) -> list[DrillCall]:
        query: Select[Any] = (select(_CALLS.c.id, _CALLS.c.sid, _CALLS.c.received_at, _CALLS.c.organisation,
                                     _CALLS.c.topic, _CALLS.c.location, _CALLS.c.line_kind, _CALLS.c.caller_masked,
                                     _CALLS.c.liaison_id, _EVENTS.c.kind, _EVENTS.c.at, _EVENTS.c.detail)
                              .select_from(_CALLS.outerjoin(_EVENTS, _EVENTS.c.call_id == _CALLS.c.id))
                              .where(where).order_by(_CALLS.c.id, _EVENTS.c.id))
        calls: dict[int, tuple[RowMapping, list[Event]]] = {}
        for row in conn.execute(query).mappings():
            _, events = calls.setdefault(row["id"], (row, []))
            if row["kind"] is not None:
                events.append((row["kind"], utc(row["at"]), dict(row["detail"] or {})))
        return [DrillCall(id=row["id"], sid=row["sid"], received_at=utc(row["received_at"]), dimensions=_dims(row),
                          caller_masked=row["caller_masked"], events=events, liaison_id=row["liaison_id"])
                for row, events in calls.values()]

    def callbacks_requested(self, *, start: datetime, end: datetime, filters: Mapping[str, str]) -> list[CallbackLine]:
        """Callbacks asked for in [start, end): their first event (no `from_state`), as the rollups count them."""
        ev, cb = _CALLBACK_EVENTS.c, _CALLBACKS.c
        where = [ev.at >= utc(start), ev.at < utc(end), ev.from_state.is_(None)]
        for name, value in filters.items():
            if name == "line_kind":
                where.append(cb.priority_class.in_([k for k, v in _LINE_KIND.items() if v == value] or [value]))
            else:
                where.append(cb[name] == value)
        query = (select(cb.id, cb.organisation, cb.topic, cb.location, cb.priority_class, cb.phone_number, cb.state,
                        cb.call_sid, ev.at)
                 .select_from(_CALLBACK_EVENTS.join(_CALLBACKS, cb.id == ev.callback_id)).where(*where))
        with self._sessions() as session:
            rows = session.execute(query).mappings().all()
        return [CallbackLine(callback_id=row["id"], requested_at=utc(row["at"]),
                             dimensions=_dims(row, line_kind=_LINE_KIND.get(row["priority_class"], row["priority_class"])),
                             number_masked=mask_number(row["phone_number"] or ""), state=row["state"],
                             call_sid=row["call_sid"]) for row in rows]

    def recorded_outcome(self, call_id: int) -> RecordedOutcome | None:
        with self._sessions() as session:
            row = session.execute(select(ConversationOutcomeRow.outcome, ConversationOutcomeRow.referred_organisation)
                                  .where(ConversationOutcomeRow.call_id == call_id)).first()
        return RecordedOutcome(row[0], row[1]) if row else None

    def liaison_names(self, ids: Iterable[int]) -> dict[int, str]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        with self._sessions() as session:
            return {row[0]: row[1] for row in session.execute(select(LiaisonRow.id, LiaisonRow.name)
                                                              .where(LiaisonRow.id.in_(wanted)))}
