"""Rollups in SQL: read one interval's calls and callback moves, replace its rows, sum rows for views."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.adapters.sql.callback_tables import CallbackEventRow, CallbackRow
from callrouter.adapters.sql.reading import utc
from callrouter.adapters.sql.stats_tables import OUTCOME_COLUMNS, AnsweredWithinRow, CallStatsRow, StatsIntervalRow
from callrouter.domain.calls import OPEN_STATES, EventKind, PriorityClass
from callrouter.domain.statistics import TRANSFERRED, Event
from callrouter.domain.statistics_totals import (
    COUNTERS,
    DIMENSION_NAMES,
    CallbackMove,
    Dimensions,
    IntervalInput,
    Totals,
)

_STATS = CallStatsRow.__table__
_WITHIN = AnsweredWithinRow.__table__
_INTERVALS = StatsIntervalRow.__table__
_CALLS = CallRow.__table__
_EVENTS = CallEventRow.__table__
_CALLBACKS = CallbackRow.__table__
_CALLBACK_EVENTS = CallbackEventRow.__table__
_LINE_KIND = {PriorityClass.PROFESSIONAL.value: "professional", PriorityClass.CITIZEN.value: "citizen"}
_ALL_KINDS = sorted({kind.value for kind in EventKind} | {TRANSFERRED})
GROUPINGS = {"interval": "interval_start", "day": "local_day", "hour_of_day": "local_hour"}


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | Decimal) else 0


def _dims(row: RowMapping, *, line_kind: str | None = None) -> Dimensions:
    return Dimensions(organisation=row["organisation"] or "", topic=row["topic"] or "",
                      location=row["location"] or "", line_kind=line_kind or row["line_kind"] or "")


class SqlStatsStore:
    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory

    # -- writing one interval ----------------------------------------------------------------------

    def replace_interval(self, *, start: datetime, end: datetime, local_day: date, local_hour: int,
                         computed_at: datetime, compute: Callable[[IntervalInput], Mapping[Dimensions, Totals]]) -> int:
        """Recompute one interval in one transaction: lock its marker row, read, replace its rows.

        Two workers on the same interval queue on the marker row (SQLite: on the write lock), so the
        last one to commit read everything the first one wrote. Returns the number of rows written.
        """
        start, end = utc(start), utc(end)
        with self._sessions.begin() as session:
            conn = session.connection()
            self._lock(conn, start=start, computed_at=utc(computed_at))
            data = IntervalInput(calls=self._calls(conn, start=start, end=end),
                                 callback_moves=self._callback_moves(conn, start=start, end=end))
            rows = compute(data)
            conn.execute(delete(_STATS).where(_STATS.c.interval_start == start))
            conn.execute(delete(_WITHIN).where(_WITHIN.c.interval_start == start))
            key = {"interval_start": start, "local_day": local_day, "local_hour": local_hour}
            stats = [{**key, **vars(dims), **self._columns(totals)} for dims, totals in rows.items()]
            within = [{**key, **vars(dims), "threshold_seconds": threshold, "answered": count}
                      for dims, totals in rows.items() for threshold, count in totals.within.items()]
            if stats:
                conn.execute(insert(_STATS), stats)
            if within:
                conn.execute(insert(_WITHIN), within)
            conn.execute(_INTERVALS.update().where(_INTERVALS.c.interval_start == start)
                         .values(calls=sum(t.received - t.transfers_in for t in rows.values())))  # calls, not parts
            return len(stats)

    def _lock(self, conn: Connection, *, start: datetime, computed_at: datetime) -> None:
        dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(_INTERVALS).values(interval_start=start, computed_at=computed_at, calls=0)
        conn.execute(statement.on_conflict_do_update(index_elements=[_INTERVALS.c.interval_start],
                                                     set_={"computed_at": computed_at}))

    @staticmethod
    def _columns(totals: Totals) -> dict[str, int]:
        values = {name: getattr(totals, name) for name in COUNTERS}
        values["longest_wait_ms"] = totals.longest_wait_ms
        values.update({column: totals.outcomes.get(outcome, 0) for outcome, column in OUTCOME_COLUMNS.items()})
        return values

    def _calls(self, conn: Connection, *, start: datetime, end: datetime) -> list[tuple[Dimensions, list[Event]]]:
        """The calls that arrived in [start, end) with their events (an index range on received_at)."""
        query = (select(_CALLS.c.id, _CALLS.c.organisation, _CALLS.c.topic, _CALLS.c.location, _CALLS.c.line_kind,
                        _EVENTS.c.kind, _EVENTS.c.at, _EVENTS.c.detail)
                 .select_from(_CALLS.outerjoin(_EVENTS, _EVENTS.c.call_id == _CALLS.c.id))
                 .where(_CALLS.c.received_at >= start, _CALLS.c.received_at < end)
                 .order_by(_CALLS.c.id, _EVENTS.c.id))
        calls: dict[int, tuple[Dimensions, list[Event]]] = {}
        for row in conn.execute(query).mappings():
            dims, events = calls.setdefault(row["id"], (_dims(row), []))
            if row["kind"] is not None:
                events.append((row["kind"], utc(row["at"]), dict(row["detail"] or {})))
        return list(calls.values())

    def _callback_moves(self, conn: Connection, *, start: datetime, end: datetime) -> list[tuple[Dimensions, CallbackMove]]:
        ev, cb = _CALLBACK_EVENTS.c, _CALLBACKS.c
        query = (select(cb.organisation, cb.topic, cb.location, cb.priority_class, ev.from_state, ev.to_state)
                 .select_from(_CALLBACK_EVENTS.join(_CALLBACKS, cb.id == ev.callback_id))
                 .where(ev.at >= start, ev.at < end,
                        or_(ev.from_state.is_(None), ev.to_state.in_(["completed", "failed"]))))
        moves: list[tuple[Dimensions, CallbackMove]] = []
        for row in conn.execute(query).mappings():
            move: CallbackMove = "requested" if row["from_state"] is None else row["to_state"]
            moves.append((_dims(row, line_kind=_LINE_KIND.get(row["priority_class"], row["priority_class"])), move))
        return moves

    # -- what needs recomputing ------------------------------------------------------------------

    def earliest_call_touched(self, *, since: datetime, open_since: datetime) -> datetime | None:
        """The earliest arrival among calls with an event at or after `since`, or still open (arrived
        after `open_since`): the intervals from there on may have changed."""
        since, open_since = utc(since), utc(open_since)
        with self._sessions() as session:
            # The arrival as a correlated lookup, not a join: with planner statistics (ANALYZE) SQLite would
            # otherwise read calls in received_at order for the min() and probe each call's events, every
            # old call of the history; this way it can only start from the recent events (kind, at index).
            arrival = select(_CALLS.c.received_at).where(_CALLS.c.id == _EVENTS.c.call_id).scalar_subquery()
            touched = session.execute(
                select(func.min(arrival)).where(_EVENTS.c.kind.in_(_ALL_KINDS), _EVENTS.c.at >= since)).scalar()
            still_open = session.execute(
                select(func.min(_CALLS.c.received_at))
                .where(_CALLS.c.state.in_([s.value for s in OPEN_STATES]), _CALLS.c.received_at >= open_since)).scalar()
        found = [utc(v) for v in (touched, still_open) if v is not None]
        return min(found) if found else None

    # -- reading -----------------------------------------------------------------------------------

    def sums(self, *, start: datetime, end: datetime, grouping: str, by: Iterable[str],
             filters: Mapping[str, str]) -> list[tuple[object, tuple[str, ...], Totals]]:
        """Summed rows of [start, end) grouped by `grouping` (a GROUPINGS value) and dimensions `by`."""
        by = tuple(by)
        if grouping not in GROUPINGS.values() or any(name not in DIMENSION_NAMES for name in by):
            raise ValueError("unknown grouping or dimension")
        results: dict[tuple[object, tuple[str, ...]], Totals] = {}
        with self._sessions() as session:
            for table, is_within in ((_STATS, False), (_WITHIN, True)):
                keys = [table.c[grouping], *(table.c[name] for name in by)]
                where = and_(table.c.interval_start >= utc(start), table.c.interval_start < utc(end),
                             *(table.c[name] == value for name, value in filters.items()))
                if is_within:
                    columns = [table.c.threshold_seconds, func.sum(table.c.answered)]
                    group = [*keys, table.c.threshold_seconds]
                else:
                    columns = [*(func.sum(table.c[n]) for n in COUNTERS), func.max(table.c.longest_wait_ms),
                               *(func.sum(table.c[c]) for c in OUTCOME_COLUMNS.values())]
                    group = keys
                for row in session.execute(select(*keys, *columns).where(where).group_by(*group)):
                    bucket = row[0]
                    bucket = utc(bucket) if isinstance(bucket, datetime) else bucket
                    totals = results.setdefault((bucket, tuple(row[1:len(keys)])), Totals())
                    values = row[len(keys):]
                    if is_within:
                        totals.within[int(values[0])] = _int(values[1])
                        continue
                    for name, value in zip(COUNTERS, values, strict=False):
                        setattr(totals, name, _int(value))
                    totals.longest_wait_ms = _int(values[len(COUNTERS)])
                    outcome_values = values[len(COUNTERS) + 1:]
                    totals.outcomes = {o: _int(v) for o, v in zip(OUTCOME_COLUMNS, outcome_values, strict=True)}
        return [(bucket, dims, totals) for (bucket, dims), totals in sorted(results.items(), key=lambda i: i[0])]
