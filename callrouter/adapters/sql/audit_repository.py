"""The staff audit log in SQL: one row per call page, drill-down or export opened."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.audit_tables import AuditRow
from callrouter.adapters.sql.staff_tables import StaffAccountRow
from callrouter.ports.audit import AuditEntry

MAX_TARGET, MAX_VALUE = 300, 200


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # SQLite gives naive UTC back


class SqlAuditLog:
    def __init__(self, session_factory: sessionmaker[Session], *, batch: int = 1000):
        self._sessions = session_factory
        self._batch = batch

    def record(self, entry: AuditEntry) -> None:
        filters = {str(k)[:40]: str(v)[:MAX_VALUE] for k, v in list(entry.filters.items())[:30]}
        with self._sessions.begin() as session:
            session.add(AuditRow(at=entry.at, account_id=entry.account_id, action=entry.action,
                                 target=entry.target[:MAX_TARGET], filters=filters, origin=entry.origin[:64]))

    def entries(self, *, since: datetime | None = None, until: datetime | None = None, account_id: int | None = None,
                action: str | None = None, limit: int = 100) -> list[AuditEntry]:
        query = (select(AuditRow, StaffAccountRow.issuer, StaffAccountRow.subject)
                 .outerjoin(StaffAccountRow, StaffAccountRow.id == AuditRow.account_id))
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if until is not None:
            query = query.where(AuditRow.at < until)
        if account_id is not None:
            query = query.where(AuditRow.account_id == account_id)
        if action is not None:
            query = query.where(AuditRow.action == action)
        with self._sessions() as session:
            rows = session.execute(query.order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)).all()
        return [AuditEntry(at=_aware(row.at), account_id=row.account_id, action=row.action, target=row.target,
                           filters=dict(row.filters or {}), origin=row.origin, id=row.id,
                           account=f"{issuer} {subject}" if issuer else "")
                for row, issuer, subject in rows]

    def delete_before(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        if dry_run:
            with self._sessions() as session:
                return int(session.scalar(select(func.count()).where(AuditRow.at < cutoff)) or 0)
        done = 0
        while True:
            with self._sessions.begin() as session:
                ids = list(session.scalars(select(AuditRow.id).where(AuditRow.at < cutoff)
                                           .order_by(AuditRow.id).limit(self._batch)))
                if ids:
                    session.execute(delete(AuditRow).where(AuditRow.id.in_(ids)))
            done += len(ids)
            if len(ids) < self._batch:
                return done
