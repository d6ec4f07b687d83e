"""The directory as the domain sees it: organisations, topics, counters, caseworkers, liaisons, lines.

Plain frozen dataclasses (stdlib only). The SQL adapter loads and stores them; the YAML importer
builds them; services only ever see these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from callrouter.domain.hours import OpeningHours


class LineKind(enum.StrEnum):
    PROFESSIONAL = "professional"
    CITIZEN = "citizen"


@dataclass(frozen=True)
class Topic:
    organisation: str  # organisation code
    code: str  # short, lowercase, e.g. "ww"
    name_nl: str
    name_en: str


@dataclass(frozen=True)
class Organisation:
    code: str  # CAK, CJIB, DUO, IND, TSL, SVB, UWV
    name: str
    public_phone: str  # E.164, said to callers who cannot be helped here
    hours: OpeningHours
    topics: tuple[Topic, ...] = ()  # in menu order, most frequent first

    def topic(self, code: str) -> Topic | None:
        return next((t for t in self.topics if t.code == code), None)


@dataclass(frozen=True)
class Location:
    """A service counter (loket). Organisations are in menu order, most frequent first."""

    code: str  # e.g. "AMS"
    name: str  # e.g. "Amsterdam", said in the greeting
    organisations: tuple[str, ...]


@dataclass(frozen=True)
class Caseworker:
    id: int
    code: str  # 4 digits, not secret; typed before the PIN
    name: str
    location: str  # location code
    phone_numbers: tuple[str, ...] = ()  # E.164
    pin_hash: str | None = None  # argon2; never the PIN


@dataclass(frozen=True)
class Liaison:
    id: int
    code: str  # stable key in the directory file
    name: str
    organisation: str
    topics: tuple[str, ...]  # topic codes this liaison knows (expert in)
    address: str  # E.164 number, "sip:..." or "client:..."


@dataclass(frozen=True)
class Line:
    number: str  # the Twilio number (E.164) that was dialled
    kind: LineKind
    organisations: tuple[str, ...] = field(default_factory=tuple)  # scope; empty = all
    label: str = ""
    verdict_question: bool = False  # after the conversation, ask the caller once whether the question was answered
