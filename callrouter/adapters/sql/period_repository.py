"""Named evaluation periods in SQL. The unique name and name key decide between two processes adding at once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.period_tables import EvaluationPeriodRow
from callrouter.domain.periods import NamedPeriod, PeriodInvalid, name_key


def _period(row: EvaluationPeriodRow) -> NamedPeriod:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return NamedPeriod(row.name, row.first_day, row.last_day, created, row.created_by, row.id)


class SqlPeriods:
    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory

    def all(self) -> list[NamedPeriod]:
        """Every named period, the most recent first."""
        with self._sessions() as session:
            rows = session.scalars(select(EvaluationPeriodRow)
                                   .order_by(EvaluationPeriodRow.first_day.desc(), EvaluationPeriodRow.name))
            return [_period(row) for row in rows]

    def add(self, period: NamedPeriod, *, at: datetime, by: str) -> NamedPeriod:
        try:
            with self._sessions.begin() as session:
                row = EvaluationPeriodRow(name=period.name, name_key=name_key(period.name), first_day=period.first_day,
                                          last_day=period.last_day, created_at=at.astimezone(UTC), created_by=by[:100])
                session.add(row)
                session.flush()
                return _period(row)
        except IntegrityError:  # another process stored the same (or an overlapping) name meanwhile
            raise PeriodInvalid("naam", f"De naam '{period.name}' is al in gebruik.") from None

    def remove(self, name: str) -> bool:
        with self._sessions.begin() as session:
            found = session.scalar(select(EvaluationPeriodRow.id).where(EvaluationPeriodRow.name == name))
            if found is None:
                return False
            session.execute(delete(EvaluationPeriodRow).where(EvaluationPeriodRow.id == found))
            return True
