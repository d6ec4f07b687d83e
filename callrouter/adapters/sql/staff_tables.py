"""Tables for staff: accounts (issuer + subject), role grants, conversation outcomes.

Sessions are not here: they live in Redis (see callrouter/web/staff_auth/sessions.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callrouter.adapters.sql.base import Base


class StaffAccountRow(Base):
    __tablename__ = "staff_accounts"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_staff_accounts_issuer_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the ID token's `name`
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StaffGrantRow(Base):
    __tablename__ = "staff_role_grants"
    __table_args__ = (
        UniqueConstraint("account_id", "role", "organisation", name="uq_staff_role_grants_account_role_org"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str | None] = mapped_column(String(16), nullable=True)  # organisation code
    liaison_id: Mapped[int | None] = mapped_column(ForeignKey("liaisons.id"), nullable=True)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    granted_by: Mapped[str] = mapped_column(String(100))  # e.g. "cli"


class ConversationOutcomeRow(Base):
    """The liaison's word on one answered call: one per call, changeable by the same liaison for a while."""

    __tablename__ = "conversation_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    liaison_id: Mapped[int] = mapped_column(ForeignKey("liaisons.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    referred_organisation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # +1 per change (migration 0009)
