"""The calls behind a dashboard figure, and one call's detail for a supervisor.

Membership is decided by callrouter.domain.statistics_drilldown with the rollups' own rules, so a
list holds as many calls as the figure says (for a rollup that is current). Calls are read by
arrival within the period (an index range), never the whole history; more than `max_calls` in one
period is refused, asking for a shorter period or a filter. Figures per liaison (employee monitoring
under the AVG) exist only when `per_liaison` is switched on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from callrouter.domain.statistics import StatsPolicy, call_facts, canonical
from callrouter.domain.statistics_drilldown import (
    CALLBACK_FIGURES,
    CallbackLine,
    CallLine,
    DrillCall,
    Selection,
    answering_liaison,
    call_count_figures,
    per_liaison,
    safe_detail,
    select_callbacks,
    select_calls,
)
from callrouter.domain.statistics_intervals import AMSTERDAM, period_bounds
from callrouter.domain.statistics_totals import Totals
from callrouter.domain.statistics_transfers import Link, chain
from callrouter.services.errors import CallRouterError, Forbidden, NotFound

MAX_CALLS = 20_000
PER_LIAISON_OFF = ("Cijfers per medewerker staan uit (instelling CALLROUTER_STATS_PER_LIAISON): dat is "
                   "personeelsvolgsysteem onder de AVG en mag alleen met instemming van de OR en een DPIA.")


class DrilldownInvalid(CallRouterError):
    status = 422
    code = "invalid_drilldown"

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


class PerLiaisonOff(Forbidden):
    code = "per_liaison_off"

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


class RecordedOutcomeLike(Protocol):
    # Read-only members, so a frozen dataclass (the SQL adapter's RecordedOutcome) matches.
    @property
    def result(self) -> str: ...

    @property
    def referred_organisation(self) -> str | None: ...


class DrilldownStore(Protocol):
    def count_calls(self, *, start: datetime, end: datetime, filters: Mapping[str, str]) -> int: ...

    def calls(self, *, start: datetime, end: datetime, filters: Mapping[str, str]) -> list[DrillCall]: ...

    def call(self, ref: str) -> DrillCall | None: ...

    def callbacks_requested(self, *, start: datetime, end: datetime,
                            filters: Mapping[str, str]) -> list[CallbackLine]: ...

    def recorded_outcome(self, call_id: int) -> RecordedOutcomeLike | None: ...

    def liaison_names(self, ids: Iterable[int]) -> dict[int, str]: ...


@dataclass(frozen=True)
class DrillDeps:
    store: DrilldownStore
    policy: StatsPolicy = field(default_factory=StatsPolicy)
    zone: ZoneInfo = AMSTERDAM
    per_liaison: bool = False
    max_calls: int = MAX_CALLS


@dataclass(frozen=True)
class LiaisonFigures:
    liaison_id: int
    name: str
    totals: Totals  # answered calls only: answered, average talk time, average speed of answer


@dataclass(frozen=True)
class Drill:
    figure: str
    calls: list[CallLine]  # empty for a callback figure
    callbacks: list[CallbackLine]  # only for a callback figure
    liaisons: list[LiaisonFigures] | None  # None when figures per liaison are switched off
    liaison_names: dict[int, str]

    @property
    def count(self) -> int:
        return len(self.callbacks) if self.figure in CALLBACK_FIGURES.values() else len(self.calls)


@dataclass(frozen=True)
class EventLine:
    kind: str
    at: datetime
    detail: dict[str, str]


@dataclass(frozen=True)
class ChainLine:
    """One organisation the call reached, in order (docs/statistics.md "Doorverbinden en overleg")."""

    link: Link
    liaison_name: str | None  # who answered there; only when figures per liaison are switched on
    transferred_by_name: str | None  # who handed the call over to it; likewise


@dataclass(frozen=True)
class CallDetail:
    line: CallLine
    events: list[EventLine]
    recorded: RecordedOutcomeLike | None
    liaison_name: str | None  # only when figures per liaison are switched on
    chain: list[ChainLine] = field(default_factory=list)  # the organisations and liaisons of the call


def known_figures(policy: StatsPolicy) -> tuple[str, ...]:
    return (*call_count_figures(policy), CALLBACK_FIGURES["requested"])


def calls_behind(deps: DrillDeps, *, first_day: date, last_day: date, filters: Mapping[str, str | None],
                 figure: str, hour: int | None = None, liaison_id: int | None = None) -> Drill:
    """The calls (or callbacks) behind one figure of the period and filters, oldest first."""
    if figure not in known_figures(deps.policy):
        raise DrilldownInvalid("cijfer", f"Onbekend cijfer {figure[:40]!r}.")
    if hour is not None and not 0 <= hour <= 23:
        raise DrilldownInvalid("uur", "Het uur is een getal van 0 tot en met 23.")
    if liaison_id is not None and not deps.per_liaison:
        raise PerLiaisonOff("medewerker", PER_LIAISON_OFF)
    start, end = period_bounds(first_day=first_day, last_day=last_day, zone=deps.zone)
    given = {name: value for name, value in filters.items() if value}
    if figure == CALLBACK_FIGURES["requested"]:
        if liaison_id is not None:
            raise DrilldownInvalid("medewerker", "Terugbelverzoeken worden niet per medewerker geteld.")
        callbacks = deps.store.callbacks_requested(start=start, end=end, filters=given)
        return Drill(figure, [], select_callbacks(callbacks, hour=hour, zone=deps.zone), None, {})
    count = deps.store.count_calls(start=start, end=end, filters=given)
    if count > deps.max_calls:
        raise DrilldownInvalid("periode", f"{count} gesprekken in deze periode en filters; dat zijn er meer dan "
                                          f"{deps.max_calls}. Kies een kortere periode of een filter.")
    selection = Selection(figure, hour, liaison_id, organisation=given.get("organisation"), topic=given.get("topic"))
    lines = select_calls(deps.store.calls(start=start, end=end, filters=given), selection, policy=deps.policy,
                         zone=deps.zone)
    if not deps.per_liaison:  # not even an id leaves the service
        return Drill(figure, [dataclasses.replace(line, liaison_id=None) for line in lines], [], None, {})
    grouped = per_liaison(lines, policy=deps.policy)
    names = deps.store.liaison_names([liaison for liaison, _ in grouped] + ([liaison_id] if liaison_id else []))
    liaisons = [LiaisonFigures(liaison, names.get(liaison, f"medewerker {liaison}"), totals)
                for liaison, totals in grouped]
    return Drill(figure, lines, [], liaisons, names)


def call_detail(deps: DrillDeps, *, ref: str, organisations: tuple[str, ...] | None) -> CallDetail:
    """One call's events (details without personal data), masked number and recorded outcome.

    `organisations` None: every call; else only calls of those organisations (others: NotFound, as if absent).
    """
    call = deps.store.call(ref) if ref and len(ref) <= 64 else None
    links = chain(call.dimensions, call.events) if call is not None else []
    # a transferred call is a call of every organisation it reached
    if call is None or (organisations is not None and not {link.organisation for link in links} & set(organisations)):
        raise NotFound("Dit gesprek bestaat niet, of u hebt er geen toegang toe.")
    facts = call_facts(call.events)
    liaison = answering_liaison(call.events, fallback=call.liaison_id)
    line = CallLine(call.id, call.sid, call.received_at, call.dimensions, call.caller_masked, facts,
                    liaison if deps.per_liaison else None)
    events = [EventLine(kind, at, safe_detail(detail)) for kind, at, detail in canonical(call.events)]
    name = None
    if deps.per_liaison and liaison is not None:
        name = deps.store.liaison_names([liaison]).get(liaison, f"medewerker {liaison}")
    named: dict[int, str] = {}
    if deps.per_liaison:
        ids = {i for link in links for i in (link.liaison, link.transferred_by) if i is not None}
        named = deps.store.liaison_names(sorted(ids)) if ids else {}

    def name_of(liaison_id: int | None) -> str | None:
        if not deps.per_liaison or liaison_id is None:
            return None
        return named.get(liaison_id, f"medewerker {liaison_id}")

    lines = [ChainLine(link, name_of(link.liaison), name_of(link.transferred_by)) for link in links]
    return CallDetail(line, events, deps.store.recorded_outcome(call.id), name, lines)
