"""The call record in SQL: one row per call, an append-only event log, compare-and-set updates."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_tables import CallEventRow, CallRow, PresenceRow
from callrouter.adapters.sql.engine import reading
from callrouter.adapters.sql.retry import retry_on_lost_connection
from callrouter.domain.calls import (
    HOLDING_STATES,
    MOVES,
    CallEvent,
    CallMove,
    CallRecord,
    CallState,
    EventKind,
    IllegalMove,
    LiaisonTaken,
    Outcome,
)

_FIELDS = {f.name for f in dataclasses.fields(CallRecord)}
_CALLS = CallRow.__table__
_EVENTS = CallEventRow.__table__
# Built once: SQLAlchemy then finds the compiled form in its cache without rebuilding the statement.
_INSERT_CALL = {
    name: dialect_insert(_CALLS).on_conflict_do_nothing(index_elements=[_CALLS.c.sid]).returning(_CALLS.c.id)
    for name, dialect_insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
_INSERT_EVENT = insert(_EVENTS)
_CALL_BY_SID = select(_CALLS).where(_CALLS.c.sid == bindparam("sid"))


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite hands back naive datetimes; they were stored as UTC


def _record(row: CallRow | RowMapping | Mapping[str, Any]) -> CallRecord:
    """A record from an ORM row or a Core row mapping (column name -> value)."""
    if isinstance(row, CallRow):
        values = {name: getattr(row, name) for name in _FIELDS}
    else:
        values = {name: row[name] for name in _FIELDS}
    for name in ("received_at", "queued_at", "offered_at", "answered_at", "ended_at"):
        values[name] = _aware(values[name])
    values["state"] = CallState(values["state"])
    values["outcome"] = Outcome(values["outcome"]) if values["outcome"] else None
    return CallRecord(**values)


def _plain(value: object) -> object:
    """Enums as their values; datetimes in UTC (SQLite keeps no offset, so store one zone only)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value
    return value.value if hasattr(value, "value") else value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value


def _as_row(record: CallRecord) -> dict[str, object]:
    """The values a freshly inserted row holds, as read back (plain values, UTC datetimes)."""
    return {name: _plain(getattr(record, name)) for name in _FIELDS}


def _event(call_id: int, at: datetime, kind: EventKind, detail: dict[str, object],
           dedupe: str | None) -> dict[str, object]:
    return {"call_id": call_id, "at": _plain(at), "kind": kind.value, "detail": detail, "dedupe": dedupe}


class SqlCallStore:
    """The hot path (opening a call, applying an event) uses SQLAlchemy Core on one connection per
    transaction: no ORM unit of work, no read transaction before a write, duplicates settled by
    INSERT ... ON CONFLICT (sid) DO NOTHING (SQLite and PostgreSQL both have it)."""

    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory
        bind = session_factory.kw.get("bind")
        self._engine: Engine | None = bind if isinstance(bind, Engine) else None

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        if self._engine is not None:
            with self._engine.begin() as conn:
                yield conn
        else:  # a session factory without an engine of its own
            with self._sessions.begin() as session:
                yield session.connection()

    def _insert_call(self, conn: Connection, record: CallRecord) -> int | None:
        """The new call's id, or None when a call with this sid exists (committed, or committed meanwhile)."""
        statement = _INSERT_CALL["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
        return conn.execute(statement, _as_row(record)).scalar()

    def _existing(self, conn: Connection, sid: str) -> CallRecord:
        return _record(conn.execute(_CALL_BY_SID, {"sid": sid}).one()._mapping)

    @retry_on_lost_connection
    def open_call(self, record: CallRecord, *, detail: dict[str, object]) -> tuple[CallRecord, bool]:
        """Insert the call with its `received` event; an existing sid is returned as it is."""
        with self._transaction() as conn:
            call_id = self._insert_call(conn, record)
            if call_id is None:  # the same call opened before, or concurrently by another process
                return self._existing(conn, record.sid), False
            conn.execute(_INSERT_EVENT, [_event(call_id, record.received_at, EventKind.RECEIVED, detail, "received")])
            return _record(_as_row(record)), True

    @retry_on_lost_connection
    def open_identified(self, record: CallRecord, *, detail: dict[str, object], identified_at: datetime,
                        identified: dict[str, object]) -> tuple[CallRecord, bool]:
        """Insert a new call already in its identified state, with its `received` and `identified`
        events, in one transaction: what open_call and then apply(IDENTIFIED) record, in one write.
        An existing sid is left untouched and returned as it is, with False."""
        with self._transaction() as conn:
            call_id = self._insert_call(conn, record)
            if call_id is None:
                return self._existing(conn, record.sid), False
            conn.execute(_INSERT_EVENT, [
                _event(call_id, record.received_at, EventKind.RECEIVED, detail, "received"),
                _event(call_id, identified_at, EventKind.IDENTIFIED, identified, None),
            ])
            return _record(_as_row(record)), True

    @retry_on_lost_connection
    def open_conversation(self, record: CallRecord, *, events: Sequence[tuple[EventKind, datetime, dict[str, object]]],
                          same_case_as: str | None = None) -> tuple[CallRecord, bool]:
        with self._transaction() as conn:
            call_id = self._insert_call(conn, record)
            if call_id is None:
                return self._existing(conn, record.sid), False
            if same_case_as:
                case = conn.execute(select(_CALLS.c.case_id, _CALLS.c.case_reference)
                                    .where(_CALLS.c.sid == same_case_as)).one_or_none()
                if case is not None and case.case_id is not None:
                    conn.execute(update(_CALLS).where(_CALLS.c.id == call_id)
                                 .values(case_id=case.case_id, case_reference=case.case_reference))
            conn.execute(_INSERT_EVENT, [_event(call_id, at, kind, detail, kind.value) for kind, at, detail in events])
            return _record(_as_row(record)), True

    @retry_on_lost_connection
    def get(self, sid: str) -> CallRecord | None:
        with reading(self._sessions) as session:
            row = session.scalar(select(CallRow).where(CallRow.sid == sid))
            return _record(row) if row else None

    @retry_on_lost_connection
    def apply(
        self,
        sid: str,
        *,
        event: EventKind,
        at: datetime,
        move: CallMove | None = None,
        detail: dict[str, object] | None = None,
        dedupe: str | None = None,
        only_in: frozenset[CallState] | None = None,
        **changes: object,
    ) -> CallRecord | None:
        """Append an event, make `move` and change fields in one transaction; None when not applied.

        Not applied: unknown sid, a move the call's state does not allow (domain.calls.MOVES), a state
        outside `only_in`, or an event whose dedupe key this call already has (a repeated delivery).
        A state change that names no move is a programming error: IllegalMove.
        """
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ValueError(f"unknown call fields {sorted(unknown)}")
        if "state" in changes:
            raise IllegalMove("a call's state changes only by a named move (domain.calls.MOVES)")
        allowed = MOVES[move].sources if move is not None else None
        with self._transaction() as conn:
            row = conn.execute(select(_CALLS).where(_CALLS.c.sid == sid).with_for_update()).one_or_none()
            if row is None:
                return None
            values = dict(row._mapping)
            state = CallState(values["state"])
            if (allowed is not None and state not in allowed) or (only_in is not None and state not in only_in):
                return None
            call_id = values["id"]
            if dedupe is not None and conn.execute(
                select(_EVENTS.c.id).where(_EVENTS.c.call_id == call_id, _EVENTS.c.dedupe == dedupe)
            ).first():
                return None
            conn.execute(_INSERT_EVENT, [_event(call_id, at, event, detail or {}, dedupe)])
            if move is not None:
                changes["state"] = MOVES[move].target
            if changes:
                plain = {name: _plain(value) for name, value in changes.items()}
                try:  # refused: the transaction rolls back, the event with it
                    conn.execute(update(_CALLS).where(_CALLS.c.id == call_id).values(plain))
                except IntegrityError as exc:  # the only unique key an update can break: uq_calls_open_liaison
                    raise LiaisonTaken(plain.get("liaison_id", values["liaison_id"]), sid) from exc
                values.update(plain)
            return _record(values)

    @retry_on_lost_connection
    def events(self, sid: str) -> list[CallEvent]:
        with reading(self._sessions) as session:
            rows = session.execute(
                select(CallEventRow).join(CallRow).where(CallRow.sid == sid).order_by(CallEventRow.id)
            ).scalars()
            return [CallEvent(sid, EventKind(r.kind), _aware(r.at) or r.at, dict(r.detail or {})) for r in rows]

    @retry_on_lost_connection
    def calls_in_states(self, states: frozenset[CallState]) -> list[CallRecord]:
        with reading(self._sessions) as session:
            rows = session.scalars(select(CallRow).where(CallRow.state.in_([s.value for s in states])))
            return [_record(r) for r in rows]

    @retry_on_lost_connection
    def calls_holding(self, liaison_id: int) -> list[CallRecord]:
        with reading(self._sessions) as session:
            rows = session.scalars(select(CallRow).where(
                CallRow.liaison_id == liaison_id,
                CallRow.state.in_([s.value for s in HOLDING_STATES])))
            return [_record(r) for r in rows]

    def recent_calls(self, *, organisation: str | None = None, limit: int = 50) -> list[CallRecord]:
        with self._sessions() as session:
            query = select(CallRow).order_by(CallRow.id.desc()).limit(limit)
            if organisation:
                query = query.where(CallRow.organisation == organisation)
            return [_record(r) for r in session.scalars(query)]


class SqlPresenceStore:
    """Durable presence, so Redis can be rebuilt after a restart."""

    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory

    @retry_on_lost_connection
    def save(self, *, liaison_id: int, organisation: str, status: str, since: datetime) -> None:
        with self._sessions.begin() as session:
            row = session.get(PresenceRow, liaison_id, with_for_update=True)
            if row is None:
                session.add(PresenceRow(liaison_id=liaison_id, organisation=organisation, status=status,
                                        since=_utc(since)))
            else:
                row.organisation, row.status, row.since = organisation, status, _utc(since)

    @retry_on_lost_connection
    def all(self) -> list[tuple[int, str, str, datetime]]:
        with self._sessions() as session:
            return [(r.liaison_id, r.organisation, r.status, _aware(r.since) or r.since)
                    for r in session.scalars(select(PresenceRow))]
