"""A transferred call counts for every organisation it reached: one part of the call per organisation.

A call without a `transferred` event is one part, as before. Each transfer (blind, consult or three-way)
to another organisation ends the part of the organisation handing over (its outcome `transferred`, its talk
time up to the transfer) and starts a part for the organisation taking over, which counts the call as
received, offered and (once its liaison answers) answered, with its own speed of answer:

- blind: from the transfer to the new liaison's answer (the caller waits in the new line);
- consult or three-way: from the consult's request (the caller on hold, the router looking for the other
  organisation's liaison) to that liaison joining the room (the consult's step `answered`).

The caller's **time to the last liaison** (first entering a queue to the last part's answer) is kept on the
last part only, so it counts once per answered call. A three-way call followed by its completion (the first
liaison leaves) is one transfer. Events are split in their canonical order; a liaison's recorded outcome
goes to the part that liaison answered, the caseworker's verdict (asked after the last liaison left) to the
last part. Definitions: docs/statistics.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from callrouter.domain.statistics import (
    ANSWERED,
    COMPLETED,
    QUEUED,
    RECEIVED,
    TRANSFERRED,
    CallFacts,
    Event,
    call_facts,
    canonical,
)
from callrouter.domain.statistics_totals import Dimensions

CONSULT = "consult"
OUTCOME_RECORDED = "outcome_recorded"
TRANSFER_KINDS = ("blind", "consult", "three_way")


@dataclass(frozen=True)
class Handover:
    """One transfer to another organisation, as the statistics read it."""

    position: int  # of its `transferred` event in the canonical order
    kind: str  # blind, consult, three_way
    at: datetime
    from_organisation: str | None
    from_topic: str | None
    to_organisation: str
    to_topic: str | None
    requested_at: datetime  # the second organisation's speed of answer runs from here
    joined_at: datetime | None  # consult or three-way: the other liaison joined the room
    to_liaison: int | None
    by: int | None  # the liaison who transferred


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def handovers(ordered: list[Event]) -> list[Handover]:
    """The transfers of a call (events in canonical order), a repeat to the organisation already on it left out."""
    found: list[Handover] = []
    for position, (kind, at, detail) in enumerate(ordered):
        to_org = _text(detail.get("to_organisation"))
        if kind != TRANSFERRED or to_org is None:
            continue
        current = found[-1].to_organisation if found else _text(detail.get("from_organisation"))
        if to_org == current:  # the completion of a three-way call to that organisation: no new transfer
            continue
        how = str(detail.get("kind") or "blind")
        requested, joined = at, None
        if how in ("consult", "three_way"):
            asked = [e[1] for e in ordered[:position] if e[0] == CONSULT and e[2].get("step") == "asked"
                     and e[2].get("to_organisation") == to_org]
            requested = asked[-1] if asked else at
            joined = next((e[1] for e in ordered[:position] if e[0] == CONSULT and e[2].get("step") == "answered"
                           and e[1] >= requested), None)
        found.append(Handover(position, how, at, _text(detail.get("from_organisation")), _text(detail.get("from_topic")),
                              to_org, _text(detail.get("to_topic")), requested, joined,
                              _int(detail.get("to_liaison")), _int(detail.get("liaison"))))
    return found


def _liaison(events: Iterable[Event]) -> int | None:
    return next((_int(d.get("liaison")) for k, _a, d in events if k == ANSWERED and _int(d.get("liaison"))), None)


@dataclass(frozen=True)
class _Part:
    dims: Dimensions
    events: list[Event]
    came: Handover | None
    left: Handover | None


def _parts(dims: Dimensions, ordered: list[Event]) -> list[_Part]:
    moves = handovers(ordered)
    if not moves:
        return [_Part(dims, ordered, None, None)]
    bounds = [-1, *(m.position for m in moves), len(ordered)]
    chunks: list[list[Event]] = []
    for index in range(len(moves) + 1):
        chunk = list(ordered[bounds[index] + 1:bounds[index + 1] + 1])
        if index > 0:  # received by transfer: arrives and waits from the request, answered when the liaison joined
            arrival = moves[index - 1]
            lead: list[Event] = [(RECEIVED, arrival.requested_at, {}), (QUEUED, arrival.requested_at, {})]
            if arrival.joined_at is not None:
                lead.append((ANSWERED, arrival.joined_at,
                             {"liaison": arrival.to_liaison} if arrival.to_liaison else {}))
            chunk = lead + [e for e in chunk if e[0] not in (RECEIVED, QUEUED)]
        if index < len(moves):  # handed over: this organisation's part ends at the transfer
            chunk.append((COMPLETED, moves[index].at, {"part": "transferred"}))
        chunks.append(chunk)
    _move_recorded_outcomes(chunks)
    parts = []
    for index, chunk in enumerate(chunks):
        came = moves[index - 1] if index > 0 else None
        left = moves[index] if index < len(moves) else None
        if came is None:
            organisation, topic = (left.from_organisation if left else None), (left.from_topic if left else None)
        else:
            organisation, topic = came.to_organisation, came.to_topic
        parts.append(_Part(replace(dims, organisation=organisation or dims.organisation, topic=topic or dims.topic),
                           chunk, came, left))
    return parts


def call_parts(dims: Dimensions, events: Iterable[Event]) -> list[tuple[Dimensions, CallFacts]]:
    """One (dimensions, facts) per organisation the call reached, in order; the call's own dims without transfers."""
    events = list(events)
    if not any(kind == TRANSFERRED for kind, _at, _detail in events):  # most calls: sorted once, as before
        return [(dims, call_facts(events))]
    ordered = canonical(events)
    parts = _parts(dims, ordered)
    if len(parts) == 1:
        return [(dims, call_facts(ordered))]
    first_queued = next((at for kind, at, _d in ordered if kind == QUEUED), None)
    result: list[tuple[Dimensions, CallFacts]] = []
    for part in parts:
        facts = call_facts(part.events)
        to_last = None
        if part.left is None and facts.answered_at is not None and first_queued is not None:
            to_last = max(0.0, (facts.answered_at - first_queued).total_seconds())
        facts = replace(facts, transfer_in=part.came.kind if part.came else None,
                        transfer_out=part.left.kind if part.left else None, to_last_liaison_seconds=to_last)
        result.append((part.dims, facts))
    return result


@dataclass(frozen=True)
class Link:
    """One organisation in the chain of a call: how the call came to it, its liaison, its wait and its answer."""

    organisation: str
    topic: str
    came_by: str | None  # None: chosen in the menu; else blind, consult or three_way
    transferred_by: int | None  # the liaison who handed the call over
    liaison: int | None  # who answered here (None: nobody did)
    waiting_from: datetime | None  # entered the queue, or the transfer (consult: its request)
    answered_at: datetime | None
    speed_of_answer_seconds: float | None


def chain(dims: Dimensions, events: Iterable[Event]) -> list[Link]:
    """The organisations and liaisons of a call, in order (one link for a call that was not transferred)."""
    links = []
    for part in _parts(dims, canonical(events)):
        facts = call_facts(part.events)
        links.append(Link(part.dims.organisation, part.dims.topic, part.came.kind if part.came else None,
                          part.came.by if part.came else None,
                          _liaison(canonical(part.events)) if facts.answered_at else None, facts.queued_at,
                          facts.answered_at, facts.speed_of_answer_seconds))
    return links


def _move_recorded_outcomes(parts: list[list[Event]]) -> None:
    """A liaison's recorded outcome (often written in wrap-up, after the transfer) belongs to their own part."""
    liaisons = [_liaison(chunk) for chunk in parts]
    for index, chunk in enumerate(parts):
        for event in list(chunk):
            owner = _int(event[2].get("liaison")) if event[0] == OUTCOME_RECORDED else None
            if owner is None or owner == liaisons[index] or owner not in liaisons:
                continue
            chunk.remove(event)
            parts[liaisons.index(owner)].append(event)


def transfer_detail(detail: Mapping[str, object]) -> tuple[str, str, str] | None:
    """(kind, from, to) of a `transferred` event's detail, or None when it names no organisations."""
    from_org, to_org = _text(detail.get("from_organisation")), _text(detail.get("to_organisation"))
    if from_org is None or to_org is None:
        return None
    return str(detail.get("kind") or "blind"), from_org, to_org
