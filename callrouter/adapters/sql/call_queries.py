"""Read-only queries on the call record for the staff console (names resolved, never phone numbers)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_repository import _aware
from callrouter.adapters.sql.call_tables import CallRow
from callrouter.adapters.sql.directory_tables import CaseworkerRow, LocationRow
from callrouter.adapters.sql.staff_tables import ConversationOutcomeRow
from callrouter.domain.calls import CallState
from callrouter.ports.staff import CallSummary


def _query() -> Select[CallRow, str, str]:
    return (select(CallRow, CaseworkerRow.name, LocationRow.name)
            .outerjoin(CaseworkerRow, CaseworkerRow.id == CallRow.caseworker_id)
            .outerjoin(LocationRow, LocationRow.code == CallRow.location))


def _summary(row: CallRow, caseworker: str | None, location: str | None) -> CallSummary:
    return CallSummary(
        sid=row.sid, state=row.state, organisation=row.organisation, topic=row.topic, location_name=location,
        caseworker_name=caseworker, liaison_id=row.liaison_id, received_at=_aware(row.received_at) or row.received_at,
        queued_at=_aware(row.queued_at), offered_at=_aware(row.offered_at), answered_at=_aware(row.answered_at),
        ended_at=_aware(row.ended_at), callback_id=row.callback_id)


class SqlCallQueries:
    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory

    def call(self, sid: str) -> CallSummary | None:
        with self._sessions() as session:
            found = session.execute(_query().where(CallRow.sid == sid)).first()
            return _summary(*found) if found else None

    def calls_of_liaison(self, liaison_id: int, *, limit: int = 20) -> list[CallSummary]:
        """The calls put through to this liaison, newest first."""
        with self._sessions() as session:
            rows = session.execute(_query().where(CallRow.liaison_id == liaison_id)
                                   .order_by(CallRow.id.desc()).limit(limit))
            return [_summary(*found) for found in rows]

    def without_outcome(self, liaison_id: int, *, since: datetime, limit: int = 50) -> list[CallSummary]:
        """Ended conversations of this liaison since `since` without an outcome row (index on calls.liaison_id)."""
        recorded = select(ConversationOutcomeRow.call_id).where(ConversationOutcomeRow.call_id == CallRow.id)
        with self._sessions() as session:
            rows = session.execute(_query().where(
                CallRow.liaison_id == liaison_id, CallRow.state == CallState.ENDED.value,
                CallRow.answered_at.is_not(None),
                CallRow.ended_at >= since.astimezone(UTC), ~recorded.exists()).order_by(CallRow.id.desc()).limit(limit))
            return [_summary(*found) for found in rows]
