"""The research export: one pseudonymised row per call, its columns defined once (docs/research-export.md).

Pure: what one call of the record becomes for the research bureau. No phone number, name or note is
ever an input here; the call and its case are named by keyed pseudonyms (HMAC-SHA256 with the
pseudonym key, kept apart from the data), so two exports link the same call and case without
revealing the record's ids. Outcomes and times are decided from the event log, as the figures are.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from callrouter.domain.statistics import TRANSFERRED, Event, call_facts

# Where the caseworker's verdict (issue 14, point 2) is kept on the call record: an event of this kind with
# the answer in detail["answer"]. Until the verdict question is built no call has one and the column is empty.
VERDICT_EVENT = "verdict"

COLUMNS: tuple[str, ...] = (
    "call", "received_at", "queued_at", "answered_at", "ended_at", "counter", "organisation", "topic", "line_kind",
    "wait_seconds", "talk_seconds", "outcome", "liaison_result", "referred_to", "caseworker_verdict", "case",
    "case_organisations", "case_multi_organisation", "transfer_chain",
)


class ExportRefused(ValueError):
    """A research export asked for with a bad period; names the field."""

    def __init__(self, field: str, message: str, message_nl: str | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.message_nl = message_nl or message  # for the staff pages, which are Dutch


@dataclass(frozen=True)
class ResearchCall:
    """What the record holds of one call for the export (read by the adapter, never a number or a note)."""

    id: int
    received_at: datetime
    location: str | None
    organisation: str | None
    topic: str | None
    line_kind: str
    events: list[Event] = field(default_factory=list)
    liaison_result: str | None = None
    referred_organisation: str | None = None
    case_id: int | None = None
    case_organisations: tuple[str, ...] = ()


def pseudonym(kind: str, value: int, *, key: bytes) -> str:
    """A keyed pseudonym of a record id, per kind ("call", "case"): 16 hex digits."""
    return hmac.new(key, f"research-{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()[:16]


def check_period(*, first_day: date, last_day: date, kept_days: int, names: tuple[str, str] = ("from", "to")) -> None:
    """ExportRefused naming the field: an end before the start, or a period longer than call records are kept."""
    if last_day < first_day:
        raise ExportRefused(names[1], "The period ends before it starts.", "De einddatum ligt voor de begindatum.")
    days = (last_day - first_day).days + 1
    if days > kept_days:
        raise ExportRefused(names[1], f"The period has {days} days; call records are kept {kept_days} days "
                                      f"(CALLROUTER_RETENTION_CALL_RECORD_DAYS), so no period may be longer.",
                            f"De periode telt {days} dagen; gespreksgegevens worden {kept_days} dagen bewaard, "
                            "dus een periode mag niet langer zijn.")


def _verdict(events: list[Event]) -> str | None:
    found = [detail.get("answer") for kind, _at, detail in events if kind == VERDICT_EVENT]
    answer = found[-1] if found else None
    return str(answer) if answer is not None else None


def _chain(call: ResearchCall) -> str:
    """The organisations the call went through, in order: where it was first answered, then each organisation a
    transfer (blind, consult or three-way) handed it to; empty without a transfer. The call row names only the
    last organisation, so the chain is read from the transfer events (`from_organisation`, `to_organisation`)."""
    moves = [detail for kind, _at, detail in sorted(call.events, key=lambda e: e[1]) if kind == TRANSFERRED]
    if not moves:
        return ""
    first = str(moves[0].get("from_organisation") or "")
    hops = [str(detail.get("to_organisation") or "") for detail in moves]
    return ">".join(hop for hop in [first, *hops] if hop)


def _moment(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat(timespec="seconds") if value is not None else None


def _seconds(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def research_row(call: ResearchCall, *, key: bytes, zone: ZoneInfo) -> dict[str, object]:
    """One call as the export's columns (None: empty)."""
    facts = call_facts(call.events)
    organisations = tuple(sorted(set(call.case_organisations)))
    row: dict[str, object] = {
        "call": pseudonym("call", call.id, key=key),
        "received_at": _moment(facts.received_at or call.received_at, zone),
        "queued_at": _moment(facts.queued_at, zone),
        "answered_at": _moment(facts.answered_at, zone),
        "ended_at": _moment(facts.ended_at, zone),
        "counter": call.location or None, "organisation": call.organisation or None, "topic": call.topic or None,
        "line_kind": call.line_kind,
        "wait_seconds": _seconds(facts.wait_seconds), "talk_seconds": _seconds(facts.talk_seconds),
        "outcome": facts.outcome.value if facts.outcome is not None else None,
        "liaison_result": call.liaison_result, "referred_to": call.referred_organisation,
        "caseworker_verdict": _verdict(call.events),
        "case": pseudonym("case", call.case_id, key=key) if call.case_id is not None else None,
        "case_organisations": ";".join(organisations) if call.case_id is not None else None,
        "case_multi_organisation": (len(organisations) >= 2) if call.case_id is not None else None,
        "transfer_chain": _chain(call) or None,
    }
    assert tuple(row) == COLUMNS
    return row


def csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)

