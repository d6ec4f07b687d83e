"""Named evaluation periods (callrouter.domain.periods): a name, local days from-to, who made it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callrouter.adapters.sql.base import Base


class EvaluationPeriodRow(Base):
    __tablename__ = "evaluation_periods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    # name_key: the name without capitals, accents, spaces and punctuation; unique, so two processes cannot
    # store names that overlap (callrouter.domain.periods.name_key).
    name_key: Mapped[str] = mapped_column(String(80), unique=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
