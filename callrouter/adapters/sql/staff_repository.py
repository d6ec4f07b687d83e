"""Staff accounts and their role grants in SQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.staff_tables import StaffAccountRow, StaffGrantRow
from callrouter.domain.staff import Account, Grant, Role


def _account(session: Session, row: StaffAccountRow) -> Account:
    grants = session.scalars(select(StaffGrantRow).where(StaffGrantRow.account_id == row.id).order_by(StaffGrantRow.id))
    return Account(row.id, row.issuer, row.subject, row.display_name,
                   tuple(Grant(Role(g.role), g.organisation, g.liaison_id) for g in grants))


def _find(session: Session, issuer: str, subject: str) -> StaffAccountRow | None:
    return session.scalar(select(StaffAccountRow).where(StaffAccountRow.issuer == issuer,
                                                        StaffAccountRow.subject == subject))


class SqlStaffAccounts:
    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory

    def _ensure(self, session: Session, *, issuer: str, subject: str, at: datetime) -> StaffAccountRow:
        row = _find(session, issuer, subject)
        if row is None:
            row = StaffAccountRow(issuer=issuer, subject=subject, created_at=at.astimezone(UTC))
            session.add(row)
            session.flush()
        return row

    def record_login(self, *, issuer: str, subject: str, display_name: str | None, at: datetime) -> Account:
        """The account of (issuer, subject), created without rights at its first login."""
        for attempt in range(2):
            try:
                with self._sessions.begin() as session:
                    row = self._ensure(session, issuer=issuer, subject=subject, at=at)
                    row.last_login_at = at.astimezone(UTC)
                    row.display_name = (display_name or "")[:200] or row.display_name
                    session.flush()
                    return _account(session, row)
            except IntegrityError:  # the same first login twice at once
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get(self, account_id: int) -> Account | None:
        with self._sessions() as session:
            row = session.get(StaffAccountRow, account_id)
            return _account(session, row) if row else None

    def find(self, *, issuer: str, subject: str) -> Account | None:
        with self._sessions() as session:
            row = _find(session, issuer, subject)
            return _account(session, row) if row else None

    def grant(self, *, issuer: str, subject: str, grant: Grant, by: str, at: datetime) -> Account:
        """Add a role (creating the account if it never logged in yet); granting twice changes nothing."""
        grant.check()
        with self._sessions.begin() as session:
            row = self._ensure(session, issuer=issuer, subject=subject, at=at)
            existing = session.scalars(select(StaffGrantRow).where(
                StaffGrantRow.account_id == row.id, StaffGrantRow.role == grant.role.value)).all()
            same = [g for g in existing if g.organisation == grant.organisation]
            if same:
                same[0].liaison_id = grant.liaison_id
            else:
                session.add(StaffGrantRow(account_id=row.id, role=grant.role.value, organisation=grant.organisation,
                                          liaison_id=grant.liaison_id, granted_at=at.astimezone(UTC), granted_by=by))
            session.flush()
            return _account(session, row)

    def revoke(self, *, issuer: str, subject: str, grant: Grant) -> bool:
        with self._sessions.begin() as session:
            row = _find(session, issuer, subject)
            if row is None:
                return False
            found = [g for g in session.scalars(select(StaffGrantRow).where(
                StaffGrantRow.account_id == row.id, StaffGrantRow.role == grant.role.value))
                if g.organisation == grant.organisation]
            for g in found:
                session.delete(g)
            return bool(found)

    def all(self) -> list[Account]:
        with self._sessions() as session:
            rows = session.scalars(select(StaffAccountRow).order_by(StaffAccountRow.issuer, StaffAccountRow.subject))
            return [_account(session, row) for row in rows]
