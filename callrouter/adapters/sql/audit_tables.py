"""The staff audit log (callrouter/ports/audit.py); kept for CALLROUTER_RETENTION_AUDIT_LOG_DAYS."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callrouter.adapters.sql.base import Base


class AuditRow(Base):
    __tablename__ = "staff_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    account_id: Mapped[int] = mapped_column(Integer, index=True)  # no foreign key: the log outlives no account
    action: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(300))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(64))
