"""Tables for cases: calls of one caseworker about one question (see callrouter.domain.cases).

`reference` is a keyed pseudonym (HMAC) of (caseworker, case reference), never the reference.
`open_key` is unique while the case is the caseworker's current one for that reference (or for no
reference); it is cleared when a newer case takes over, so two processes cannot open two current
cases at once: the second insert fails on the constraint and retries.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callrouter.adapters.sql.base import Base


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_local_day", "local_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caseworker_id: Mapped[int] = mapped_column(Integer, index=True)
    location: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(64), nullable=True)  # HMAC, never the reference
    open_key: Mapped[str | None] = mapped_column(String(100), nullable=True, unique=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    local_day: Mapped[date] = mapped_column(Date)  # the day opened_at falls on in Europe/Amsterdam
    last_call_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    calls: Mapped[int] = mapped_column(Integer, default=1)
