"""The demo day's reads and writes on the record (`callrouter demo day`): the calls of a period, and the
liaisons' stored presence as it was before the day was played."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_repository import SqlPresenceStore, _aware
from callrouter.adapters.sql.call_tables import CallRow, PresenceRow
from callrouter.domain.calls import CallState

StoredPresence = tuple[int, str, str, datetime]  # liaison id, organisation, status, since


class SqlDemoDay:
    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory
        self._presence = SqlPresenceStore(session_factory)

    def calls_received(self, *, start: datetime, end: datetime, open_only: bool = False) -> int:
        """Calls received from `start` up to `end`; with open_only those not ended."""
        query = select(func.count()).select_from(CallRow).where(CallRow.received_at >= start, CallRow.received_at < end)
        if open_only:
            query = query.where(CallRow.state != CallState.ENDED.value)
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def conversations(self, *, start: datetime, end: datetime) -> list[tuple[str, int, str, datetime]]:
        """(sid, liaison, organisation, ended at) of the answered calls and callback conversations received from
        `start` up to `end`, in the order they ended."""
        query = (select(CallRow.sid, CallRow.liaison_id, CallRow.organisation, CallRow.ended_at)
                 .where(CallRow.received_at >= start, CallRow.received_at < end, CallRow.answered_at.is_not(None),
                        CallRow.liaison_id.is_not(None), CallRow.ended_at.is_not(None),
                        CallRow.state == CallState.ENDED.value)
                 .order_by(CallRow.ended_at, CallRow.id))
        with self._sessions() as session:
            return [(sid, liaison, org or "", _aware(ended) or ended) for sid, liaison, org, ended in session.execute(query)
                    if liaison is not None and ended is not None]

    def presence(self) -> list[StoredPresence]:
        return self._presence.all()

    def restore_presence(self, before: list[StoredPresence]) -> None:
        """The durable presence rows (which a Redis rebuild of the live demo reads) back as they were."""
        for liaison_id, organisation, status, since in before:
            self._presence.save(liaison_id=liaison_id, organisation=organisation, status=status, since=since)
        with self._sessions.begin() as session:
            session.execute(delete(PresenceRow).where(PresenceRow.liaison_id.not_in([row[0] for row in before])))
