"""Conversation outcomes in SQL: one row per call, updated in place when the liaison changes it.

Every recording or change also appends an `outcome_recorded` event to the call (same transaction), so the
statistics, which read the event log, see it and the rollup of the call's interval is recomputed. A save
names the revision it was based on (0: none yet): two recordings made at once cannot both win.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_repository import _aware
from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.adapters.sql.staff_tables import ConversationOutcomeRow
from callrouter.domain.calls import EventKind
from callrouter.domain.staff import ConversationOutcome, ConversationResult, OutcomeChanged


def _outcome(sid: str, row: ConversationOutcomeRow) -> ConversationOutcome:
    return ConversationOutcome(sid, row.liaison_id, ConversationResult(row.outcome), row.referred_organisation,
                               row.note, _aware(row.recorded_at) or row.recorded_at, row.recorded_by,
                               revision=row.revision or 1)


class SqlOutcomes:
    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory

    def get(self, call_sid: str) -> ConversationOutcome | None:
        with self._sessions() as session:
            row = session.scalar(select(ConversationOutcomeRow).join(CallRow, CallRow.id == ConversationOutcomeRow.call_id)
                                 .where(CallRow.sid == call_sid))
            return _outcome(call_sid, row) if row else None

    def save(self, *, call_sid: str, liaison_id: int, result: ConversationResult, referred_organisation: str | None,
             note: str, at: datetime, by: int, expect_revision: int | None = None) -> ConversationOutcome:
        """Record or change the outcome of a call (the first recording time is kept). `expect_revision`: the
        revision the liaison saw (0: none); another one now raises OutcomeChanged and nothing is written."""
        at = at.astimezone(UTC)  # SQLite keeps no offset: store UTC only
        try:
            with self._sessions.begin() as session:
                call_id = session.scalar(select(CallRow.id).where(CallRow.sid == call_sid).with_for_update())
                if call_id is None:
                    raise LookupError(call_sid)
                row = session.scalar(select(ConversationOutcomeRow)
                                     .where(ConversationOutcomeRow.call_id == call_id).with_for_update())
                current = row.revision if row is not None else 0
                if expect_revision is not None and current != expect_revision:
                    raise OutcomeChanged(current)
                if row is None:
                    row = ConversationOutcomeRow(call_id=call_id, liaison_id=liaison_id, recorded_at=at,
                                                 recorded_by=by, revision=1)
                    session.add(row)
                else:
                    row.revision = current + 1
                row.outcome, row.referred_organisation, row.note, row.updated_at = (
                    result.value, referred_organisation, note, at)
                session.add(CallEventRow(call_id=call_id, at=at, kind=EventKind.OUTCOME_RECORDED.value,
                                         detail={"result": result.value, "referred_organisation": referred_organisation,
                                                 "revision": row.revision, "liaison": liaison_id},
                                         dedupe=f"outcome:{row.revision}"))
                session.flush()
                return _outcome(call_sid, row)
        except IntegrityError:  # recorded at the same moment by another request: that one won
            raise OutcomeChanged(1 if expect_revision == 0 else (expect_revision or 0) + 1) from None
