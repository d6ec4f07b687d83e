"""Tables for callbacks: the durable row (the truth) and its transitions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callrouter.adapters.sql.base import Base
from callrouter.adapters.sql.sealed import SealedNumber


class CallbackRow(Base):
    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    origin: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str] = mapped_column(String(16), index=True)
    topic: Mapped[str] = mapped_column(String(32))
    priority_class: Mapped[str] = mapped_column(String(8))
    # Sealed at rest (AES-GCM, callrouter/adapters/sql/sealed.py): the number here, ciphertext in SQL; the mask
    # the retention job leaves is kept as it is.
    phone_number: Mapped[str] = mapped_column(SealedNumber())
    line_number: Mapped[str] = mapped_column(String(32))
    place_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    caseworker_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    location: Mapped[str | None] = mapped_column(String(16), nullable=True)
    call_sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    voice_message_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    liaison_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempt_call_sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempt_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    note: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # Set while the callback is open: one open callback per caller, organisation and topic.
    open_key: Mapped[str | None] = mapped_column(String(120), nullable=True, unique=True)


class CallbackEventRow(Base):
    __tablename__ = "callback_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
