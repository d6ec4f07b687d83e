"""Conversation outcomes in SQL: one row per call, updated in place when the liaison changes it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_repository import _aware
from callrouter.adapters.sql.call_tables import CallRow
from callrouter.adapters.sql.staff_tables import ConversationOutcomeRow
from callrouter.domain.staff import ConversationOutcome, ConversationResult


def _outcome(sid: str, row: ConversationOutcomeRow) -> ConversationOutcome:
    return ConversationOutcome(sid, row.liaison_id, ConversationResult(row.outcome), row.referred_organisation,
                               row.note, _aware(row.recorded_at) or row.recorded_at, row.recorded_by)


class SqlOutcomes:
    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory

    def get(self, call_sid: str) -> ConversationOutcome | None:
        with self._sessions() as session:
            row = session.scalar(select(ConversationOutcomeRow).join(CallRow, CallRow.id == ConversationOutcomeRow.call_id)
                                 .where(CallRow.sid == call_sid))
            return _outcome(call_sid, row) if row else None

    def save(self, *, call_sid: str, liaison_id: int, result: ConversationResult, referred_organisation: str | None,
             note: str, at: datetime, by: int) -> ConversationOutcome:
        """Record or change the outcome of a call (the first recording time is kept)."""
        at = at.astimezone(UTC)  # SQLite keeps no offset: store UTC only
        for attempt in range(2):
            try:
                with self._sessions.begin() as session:
                    call_id = session.scalar(select(CallRow.id).where(CallRow.sid == call_sid))
                    if call_id is None:
                        raise LookupError(call_sid)
                    row = session.scalar(select(ConversationOutcomeRow)
                                         .where(ConversationOutcomeRow.call_id == call_id).with_for_update())
                    if row is None:
                        row = ConversationOutcomeRow(call_id=call_id, liaison_id=liaison_id, recorded_at=at,
                                                     recorded_by=by)
                        session.add(row)
                    row.outcome, row.referred_organisation, row.note, row.updated_at = (
                        result.value, referred_organisation, note, at)
                    session.flush()
                    return _outcome(call_sid, row)
            except IntegrityError:  # recorded twice at once: the second one updates
                if attempt:
                    raise
        raise AssertionError("unreachable")
