"""Callbacks in SQL: every change a compare-and-set on the row, with its event, in one transaction."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import overload

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.callback_tables import CallbackEventRow, CallbackRow
from callrouter.adapters.sql.engine import reading
from callrouter.adapters.sql.retry import retry_on_lost_connection
from callrouter.domain.callbacks import CLOSED, Callback, CallbackOrigin, CallbackState, can_move

_FIELDS = {f.name for f in dataclasses.fields(Callback)}
_TIMES = ("place_at", "due_at", "expires_at", "created_at", "attempt_started_at", "next_attempt_at")


@overload
def _utc(value: datetime) -> datetime: ...
@overload
def _utc(value: datetime | None) -> datetime | None: ...
def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _callback(row: CallbackRow) -> Callback:
    values = {name: getattr(row, name) for name in _FIELDS}
    for name in _TIMES:
        values[name] = _utc(values[name])
    values["state"] = CallbackState(row.state)
    values["origin"] = CallbackOrigin(row.origin)
    return Callback(**values)


def _stored(value: object) -> object:
    if isinstance(value, datetime):
        return _utc(value)
    return value.value if isinstance(value, CallbackState | CallbackOrigin) else value


@dataclasses.dataclass(frozen=True)
class CallbackEvent:
    at: datetime
    from_state: CallbackState | None
    to_state: CallbackState
    cause: str
    detail: dict[str, object]


class SqlCallbackStore:
    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory

    @retry_on_lost_connection
    def create(self, values: dict[str, object], *, open_key: str, cause: str) -> tuple[Callback, bool]:
        """Insert an open callback; when the caller already has one for this organisation and topic,
        return that one instead (False: joined)."""
        try:
            with self._sessions.begin() as session:
                row = CallbackRow(**{k: _stored(v) for k, v in values.items()}, open_key=open_key)
                session.add(row)
                session.flush()
                session.add(CallbackEventRow(callback_id=row.id, at=row.created_at, from_state=None,
                                             to_state=row.state, cause=cause, detail={}))
                return _callback(row), True
        except IntegrityError:
            with self._sessions() as session:
                existing = session.scalar(select(CallbackRow).where(CallbackRow.open_key == open_key))
                if existing is None:
                    raise
                return _callback(existing), False

    @retry_on_lost_connection
    def get(self, callback_id: int) -> Callback | None:
        with reading(self._sessions) as session:
            row = session.get(CallbackRow, callback_id)
            return _callback(row) if row else None

    @retry_on_lost_connection
    def move(self, callback_id: int, *, to: CallbackState, cause: str, at: datetime,
             expect: frozenset[CallbackState], expect_attempts: int | None = None,
             detail: dict[str, object] | None = None, **changes: object) -> Callback | None:
        """Compare-and-set: only from a state in `expect` (and at `expect_attempts`); None when not applied."""
        unknown = set(changes) - _FIELDS
        if unknown:
            raise ValueError(f"unknown callback fields {sorted(unknown)}")
        with self._sessions.begin() as session:
            row = session.get(CallbackRow, callback_id, with_for_update=True)
            if row is None:
                return None
            source = CallbackState(row.state)
            if source not in expect or (expect_attempts is not None and row.attempts != expect_attempts):
                return None
            if source != to and not can_move(source, to):
                raise ValueError(f"callback cannot move from {source} to {to}")
            row.state = to.value
            for name, value in changes.items():
                setattr(row, name, _stored(value))
            if to in CLOSED:
                row.open_key = None
            session.add(CallbackEventRow(callback_id=row.id, at=_utc(at), from_state=source.value, to_state=to.value,
                                         cause=cause, detail=detail or {}))
            session.flush()
            return _callback(row)

    @retry_on_lost_connection
    def in_states(self, states: frozenset[CallbackState], *, organisation: str | None = None) -> list[Callback]:
        with reading(self._sessions) as session:
            query = select(CallbackRow).where(CallbackRow.state.in_([s.value for s in states]))
            if organisation:
                query = query.where(CallbackRow.organisation == organisation)
            return [_callback(r) for r in session.scalars(query.order_by(CallbackRow.place_at, CallbackRow.id))]

    @retry_on_lost_connection
    def due(self, *, now: datetime) -> list[Callback]:
        """Open callbacks whose moment has come but that do not wait in line yet."""
        now = _utc(now)
        with reading(self._sessions) as session:
            query = select(CallbackRow).where(or_(
                (CallbackRow.state == CallbackState.REQUESTED.value) & (CallbackRow.due_at <= now),
                (CallbackRow.state == CallbackState.RETRY.value) & (CallbackRow.next_attempt_at <= now)))
            return [_callback(r) for r in session.scalars(query)]

    def count_by_state(self) -> dict[str, int]:
        """How many callbacks the record holds in each state (only the states that occur)."""
        with self._sessions() as session:
            rows = session.execute(select(CallbackRow.state, func.count()).group_by(CallbackRow.state))
            return {state: int(count) for state, count in rows}

    def events(self, callback_id: int) -> list[CallbackEvent]:
        with self._sessions() as session:
            rows = session.scalars(select(CallbackEventRow).where(CallbackEventRow.callback_id == callback_id)
                                   .order_by(CallbackEventRow.id))
            return [CallbackEvent(_utc(r.at) or r.at, CallbackState(r.from_state) if r.from_state else None,
                                  CallbackState(r.to_state), r.cause, dict(r.detail or {})) for r in rows]
