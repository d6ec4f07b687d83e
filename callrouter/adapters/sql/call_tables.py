"""Tables for the call record: calls, their append-only events, liaison presence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from callrouter.adapters.sql.base import Base

# One liaison, one call: at most one offered or connected call per liaison (migration 0013). Partial, so ended and
# waiting calls keep any liaison; the same predicate on SQLite and PostgreSQL.
OPEN_LIAISON_WHERE = text("state IN ('offered', 'connected') AND liaison_id IS NOT NULL")


class CallRow(Base):
    __tablename__ = "calls"
    __table_args__ = (
        Index("uq_calls_open_liaison", "liaison_id", unique=True, sqlite_where=OPEN_LIAISON_WHERE,
              postgresql_where=OPEN_LIAISON_WHERE),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    line_number: Mapped[str] = mapped_column(String(32))
    line_kind: Mapped[str] = mapped_column(String(16))
    caller_pseudonym: Mapped[str] = mapped_column(String(64), index=True)  # HMAC, never the number
    caller_masked: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    caseworker_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    location: Mapped[str | None] = mapped_column(String(16), nullable=True)
    organisation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    topic: Mapped[str | None] = mapped_column(String(32), nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="nl")
    menu_step: Mapped[str | None] = mapped_column(String(16), nullable=True)
    menu_page: Mapped[int] = mapped_column(Integer, default=0)
    menu_tries: Mapped[int] = mapped_column(Integer, default=0)
    pin_tries: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    offered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    liaison_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_status_seq: Mapped[int] = mapped_column(Integer, default=-1)
    # Cases (migration 0005): the case the call belongs to, and a keyed pseudonym (HMAC) of
    # (caseworker, case reference) when one was keyed in; never the reference itself.
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    case_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A callback's conversation gets a row of its own, written when it is over (migration 0009): the callback.
    callback_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class CallEventRow(Base):
    __tablename__ = "call_events"
    __table_args__ = (
        UniqueConstraint("call_id", "dedupe", name="uq_call_events_call_dedupe"),
        Index("ix_call_events_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    # Events that must happen once per call (answered, a given status) carry a key; NULLs never clash.
    dedupe: Mapped[str | None] = mapped_column(String(64), nullable=True)


class PresenceRow(Base):
    __tablename__ = "liaison_presence"

    liaison_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
