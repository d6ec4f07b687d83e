"""The retention job's reads and writes: each in small batches, each batch its own transaction.

Every statement selects by the moment a category is counted from (see callrouter.domain.retention),
so a run that stops halfway leaves consistent rows and the next run goes on where it stopped. A dry
run counts what is due and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import ColumnElement, Select, String, delete, func, select, type_coerce, update
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.audit_tables import AuditRow
from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.adapters.sql.callback_tables import CallbackEventRow, CallbackRow
from callrouter.adapters.sql.case_tables import CaseRow
from callrouter.adapters.sql.sealed import sealer
from callrouter.adapters.sql.staff_tables import ConversationOutcomeRow
from callrouter.domain.callbacks import CLOSED
from callrouter.domain.calls import CallState
from callrouter.domain.privacy import mask_number

_CLOSED = [state.value for state in CLOSED]


def _closed_before(cutoff: datetime) -> ColumnElement[bool]:
    """A closed callback whose last move happened before `cutoff`."""
    last_moves = (select(CallbackEventRow.callback_id).group_by(CallbackEventRow.callback_id)
                  .having(func.max(CallbackEventRow.at) < cutoff))
    return CallbackRow.state.in_(_CLOSED) & CallbackRow.id.in_(last_moves)


class SqlRetentionStore:
    def __init__(self, session_factory: sessionmaker[Session], *, batch: int = 500):
        self._sessions = session_factory
        self._batch = batch

    def _count(self, query: Select[int]) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)

    # -- callback numbers ------------------------------------------------------------------------

    def _unmasked_numbers(self, cutoff: datetime) -> Select[int]:
        # Sealed numbers are compared as stored: a sealed one has no '*', a mask has (sealed.py).
        return select(CallbackRow.id).where(_closed_before(cutoff), CallbackRow.phone_number.not_like("%*%"))

    def mask_callback_numbers(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        if dry_run:
            return self._count(self._unmasked_numbers(cutoff))
        done = 0
        while True:
            with self._sessions.begin() as session:
                # The stored (sealed) text, so the compare-and-set below compares what is in the row.
                stored = type_coerce(CallbackRow.phone_number, String)
                rows = session.execute(select(CallbackRow.id, stored)
                                       .where(CallbackRow.id.in_(self._unmasked_numbers(cutoff)))
                                       .order_by(CallbackRow.id).limit(self._batch)).all()
                changed = 0
                for callback_id, sealed in rows:
                    number = sealer().open(sealed)
                    result = session.execute(update(CallbackRow).where(CallbackRow.id == callback_id,
                                                                       stored == sealed)
                                             .values(phone_number=mask_number(number)))
                    changed += int(result.rowcount or 0)  # type: ignore[attr-defined]  # execute() is typed Result; DML gives CursorResult
            done += changed
            if len(rows) < self._batch or not changed:
                return done

    # -- voice messages --------------------------------------------------------------------------

    def voice_messages_due(self, cutoff: datetime, *, limit: int) -> list[tuple[int, str]]:
        with self._sessions() as session:
            rows = session.execute(select(CallbackRow.id, CallbackRow.voice_message_url)
                                   .where(_closed_before(cutoff), CallbackRow.voice_message_url.is_not(None))
                                   .order_by(CallbackRow.id).limit(limit)).all()
        return [(callback_id, url) for callback_id, url in rows if url]

    def clear_voice_message(self, callback_id: int, url: str) -> bool:
        with self._sessions.begin() as session:
            result = session.execute(update(CallbackRow).where(CallbackRow.id == callback_id,
                                                               CallbackRow.voice_message_url == url)
                                     .values(voice_message_url=None))
        return bool(result.rowcount)  # type: ignore[attr-defined]  # execute() is typed Result; DML gives CursorResult

    # -- conversation notes ----------------------------------------------------------------------

    def empty_notes(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        due = (ConversationOutcomeRow.note != "") & (ConversationOutcomeRow.recorded_at < cutoff)
        if dry_run:
            return self._count(select(ConversationOutcomeRow.id).where(due))
        with self._sessions.begin() as session:
            result = session.execute(update(ConversationOutcomeRow).where(due).values(note=""))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]  # execute() is typed Result; DML gives CursorResult

    # -- call records ----------------------------------------------------------------------------

    def _old_calls(self, cutoff: datetime) -> Select[int]:
        return select(CallRow.id).where(CallRow.received_at < cutoff, CallRow.state == CallState.ENDED.value)

    def _old_callbacks(self, cutoff: datetime) -> Select[int]:
        return select(CallbackRow.id).where(CallbackRow.created_at < cutoff, CallbackRow.state.in_(_CLOSED))

    def _old_cases(self, cutoff: datetime) -> Select[int]:
        """Cases whose last call arrived before `cutoff` and that no kept call points at any more."""
        return select(CaseRow.id).where(CaseRow.last_call_at < cutoff,
                                        CaseRow.id.not_in(select(CallRow.case_id).where(CallRow.case_id.is_not(None))))

    def delete_call_records(self, cutoff: datetime, *, dry_run: bool = False) -> tuple[int, int, int]:
        """Ended calls that arrived before `cutoff` with their events and outcomes, closed callbacks
        created before it with theirs, and cases left without calls: (calls, callbacks, cases) deleted
        (or due, in a dry run: cases counted as if the calls were gone)."""
        if dry_run:
            cases = self._count(select(CaseRow.id).where(CaseRow.last_call_at < cutoff))
            return self._count(self._old_calls(cutoff)), self._count(self._old_callbacks(cutoff)), cases
        calls = self._delete_batches(self._old_calls(cutoff), self._delete_calls)
        callbacks = self._delete_batches(self._old_callbacks(cutoff), self._delete_callbacks)
        cases = self._delete_batches(self._old_cases(cutoff), self._delete_cases)
        return calls, callbacks, cases

    def open_calls_before(self, cutoff: datetime) -> int:
        """Calls older than the cutoff that never ended (kept: the reconciler or a person must look)."""
        return self._count(select(CallRow.id).where(CallRow.received_at < cutoff,
                                                    CallRow.state != CallState.ENDED.value))

    # -- the staff audit log -----------------------------------------------------------------------

    def delete_audit_entries(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        """Audit log rows written before `cutoff`."""
        query = select(AuditRow.id).where(AuditRow.at < cutoff)
        if dry_run:
            return self._count(query)
        return self._delete_batches(query, self._delete_audit)

    @staticmethod
    def _delete_audit(session: Session, ids: list[int]) -> None:
        session.execute(delete(AuditRow).where(AuditRow.id.in_(ids)))

    def _delete_batches(self, query: Select[int], remove: Callable[[Session, list[int]], None]) -> int:
        done = 0
        while True:
            with self._sessions.begin() as session:
                ids = list(session.scalars(query.order_by(query.selected_columns[0]).limit(self._batch)))
                if ids:
                    remove(session, ids)
            done += len(ids)
            if len(ids) < self._batch:
                return done

    @staticmethod
    def _delete_calls(session: Session, ids: list[int]) -> None:
        session.execute(delete(CallEventRow).where(CallEventRow.call_id.in_(ids)))
        session.execute(delete(ConversationOutcomeRow).where(ConversationOutcomeRow.call_id.in_(ids)))
        session.execute(delete(CallRow).where(CallRow.id.in_(ids)))

    @staticmethod
    def _delete_cases(session: Session, ids: list[int]) -> None:
        session.execute(delete(CaseRow).where(CaseRow.id.in_(ids)))

    @staticmethod
    def _delete_callbacks(session: Session, ids: list[int]) -> None:
        session.execute(delete(CallbackEventRow).where(CallbackEventRow.callback_id.in_(ids)))
        session.execute(delete(CallbackRow).where(CallbackRow.id.in_(ids)))
