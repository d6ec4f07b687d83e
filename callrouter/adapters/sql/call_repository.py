"""The call record in SQL: one row per call, an append-only event log, compare-and-set updates."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_tables import CallEventRow, CallRow, PresenceRow
from callrouter.domain.calls import CallEvent, CallRecord, CallState, EventKind, Outcome

_FIELDS = {f.name for f in dataclasses.fields(CallRecord)}


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite hands back naive datetimes; they were stored as UTC


def _record(row: CallRow) -> CallRecord:
    values = {name: getattr(row, name) for name in _FIELDS}
    for name in ("received_at", "queued_at", "offered_at", "answered_at", "ended_at"):
        values[name] = _aware(values[name])
    values["state"] = CallState(row.state)
    values["outcome"] = Outcome(row.outcome) if row.outcome else None
    return CallRecord(**values)


def _plain(value: object) -> object:
    """Enums as their values; datetimes in UTC (SQLite keeps no offset, so store one zone only)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value
    return value.value if hasattr(value, "value") else value


class SqlCallStore:
    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory

    def open_call(self, record: CallRecord, *, detail: dict[str, object]) -> tuple[CallRecord, bool]:
        """Insert the call with its `received` event; an existing sid is returned as it is."""
        with self._sessions.begin() as session:
            existing = session.scalar(select(CallRow).where(CallRow.sid == record.sid))
            if existing is not None:
                return _record(existing), False
        try:
            with self._sessions.begin() as session:
                values = {k: _plain(v) for k, v in dataclasses.asdict(record).items()}
                row = CallRow(**values)
                session.add(row)
                session.flush()
                session.add(CallEventRow(call_id=row.id, at=_plain(record.received_at), kind=EventKind.RECEIVED.value,
                                         detail=detail, dedupe="received"))
                return _record(row), True
        except IntegrityError:  # the same call opened concurrently by another process
            with self._sessions.begin() as session:
                row = session.scalars(select(CallRow).where(CallRow.sid == record.sid)).one()
                return _record(row), False

    def get(self, sid: str) -> CallRecord | None:
        with self._sessions() as session:
            row = session.scalar(select(CallRow).where(CallRow.sid == sid))
            return _record(row) if row else None

    def apply(
        self,
        sid: str,
        *,
        event: EventKind,
        at: datetime,
        detail: dict[str, object] | None = None,
        dedupe: str | None = None,
        expect: frozenset[CallState] | None = None,
        **changes: object,
    ) -> CallRecord | None:
        """Append an event and change fields in one transaction; None when not applied.

        Not applied: unknown sid, a state outside `expect` (compare-and-set), or an event whose
        dedupe key this call already has (a repeated delivery).
        """
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ValueError(f"unknown call fields {sorted(unknown)}")
        with self._sessions.begin() as session:
            row = session.scalar(select(CallRow).where(CallRow.sid == sid).with_for_update())
            if row is None:
                return None
            if expect is not None and CallState(row.state) not in expect:
                return None
            if dedupe is not None and session.scalar(
                select(CallEventRow.id).where(CallEventRow.call_id == row.id, CallEventRow.dedupe == dedupe)
            ):
                return None
            session.add(CallEventRow(call_id=row.id, at=_plain(at), kind=event.value, detail=detail or {}, dedupe=dedupe))
            for name, value in changes.items():
                setattr(row, name, _plain(value))
            session.flush()
            return _record(row)

    def events(self, sid: str) -> list[CallEvent]:
        with self._sessions() as session:
            rows = session.execute(
                select(CallEventRow).join(CallRow).where(CallRow.sid == sid).order_by(CallEventRow.id)
            ).scalars()
            return [CallEvent(sid, EventKind(r.kind), _aware(r.at) or r.at, dict(r.detail or {})) for r in rows]

    def calls_in_states(self, states: frozenset[CallState]) -> list[CallRecord]:
        with self._sessions() as session:
            rows = session.scalars(select(CallRow).where(CallRow.state.in_([s.value for s in states])))
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

    def save(self, *, liaison_id: int, organisation: str, status: str, since: datetime) -> None:
        with self._sessions.begin() as session:
            row = session.get(PresenceRow, liaison_id, with_for_update=True)
            if row is None:
                session.add(PresenceRow(liaison_id=liaison_id, organisation=organisation, status=status,
                                        since=_plain(since)))
            else:
                row.organisation, row.status, row.since = organisation, status, _plain(since)

    def all(self) -> list[tuple[int, str, str, datetime]]:
        with self._sessions() as session:
            return [(r.liaison_id, r.organisation, r.status, _aware(r.since) or r.since)
                    for r in session.scalars(select(PresenceRow))]
