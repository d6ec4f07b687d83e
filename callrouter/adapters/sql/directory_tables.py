"""The directory in SQL: organisations, topics, locations, caseworkers, liaisons, lines.

Rows are keyed by an integer id; the codes from the directory file are unique. Caseworkers and
liaisons are never deleted (call records reference them by id): leaving the file deactivates
them. Organisations and locations still referenced by such rows are deactivated too; the rest
is deleted. Opening hours are one JSON column (see `hours_to_json`).
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from callrouter.adapters.sql.base import Base
from callrouter.domain.directory import LineKind
from callrouter.domain.hours import WEEKDAYS, OpeningHours, Span


class OrganisationRow(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    public_phone: Mapped[str] = mapped_column(String(32))
    hours: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TopicRow(Base):
    __tablename__ = "topics"
    __table_args__ = (UniqueConstraint("organisation_id", "code", name="uq_topics_organisation_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name_nl: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)  # menu order, 0 first


class LocationRow(Base):
    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class LocationOrganisationRow(Base):
    __tablename__ = "location_organisations"

    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)  # menu order, 0 first


class CaseworkerRow(Base):
    __tablename__ = "caseworkers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(4), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    pin_hash: Mapped[str | None] = mapped_column(String(200))  # argon2, never the PIN
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CaseworkerPhoneRow(Base):
    __tablename__ = "caseworker_phones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caseworker_id: Mapped[int] = mapped_column(ForeignKey("caseworkers.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # E.164


class LiaisonRow(Base):
    __tablename__ = "liaisons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    address: Mapped[str] = mapped_column(String(200))  # E.164, sip:user@host or client:name
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class LiaisonTopicRow(Base):
    __tablename__ = "liaison_topics"

    liaison_id: Mapped[int] = mapped_column(ForeignKey("liaisons.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True)


class LineRow(Base):
    __tablename__ = "lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # E.164, the Twilio number dialled
    kind: Mapped[LineKind] = mapped_column(
        Enum(LineKind, name="line_kind", native_enum=False, length=16, values_callable=lambda e: [k.value for k in e])
    )
    label: Mapped[str] = mapped_column(String(200), default="")
    # After the conversation the caller hears one question: was it answered? (migration 0009)
    verdict_question: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LineOrganisationRow(Base):
    """A line's scope; a line without rows here serves every organisation."""

    __tablename__ = "line_organisations"

    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)


def _clock(moment: time) -> str:
    return "24:00" if moment == time.max else f"{moment:%H:%M}"  # time.max: a span to the end of the day


def _spans_to_json(spans: tuple[Span, ...]) -> list[str]:
    return [f"{_clock(start)}-{_clock(end)}" for start, end in spans]


def _spans_from_json(items: list[str]) -> tuple[Span, ...]:
    def moment(text: str) -> time:
        return time.max if text == "24:00" else time.fromisoformat(text)

    return tuple((moment(item[:5]), moment(item[6:])) for item in items)


def hours_to_json(hours: OpeningHours) -> dict[str, Any]:
    """`{"weekly": {"mon": ["08:30-17:00"]}, "overrides": {"2026-12-24": []}, ...}`, keys sorted."""
    return {
        "weekly": {WEEKDAYS[day]: _spans_to_json(spans) for day, spans in sorted(hours.weekly.items())},
        "overrides": {day.isoformat(): _spans_to_json(spans) for day, spans in sorted(hours.overrides.items())},
        "closed_on_public_holidays": hours.closed_on_public_holidays,
        "zone": hours.zone,
    }


def hours_from_json(data: dict[str, Any]) -> OpeningHours:
    return OpeningHours(
        weekly={WEEKDAYS.index(day): _spans_from_json(spans) for day, spans in data["weekly"].items()},
        overrides={date.fromisoformat(day): _spans_from_json(spans) for day, spans in data["overrides"].items()},
        closed_on_public_holidays=bool(data["closed_on_public_holidays"]),
        zone=str(data["zone"]),
    )
