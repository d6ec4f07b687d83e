"""The dashboard's numbers: the headline figures with their targets and states, and the data behind the charts.

Targets are defaults in code (DashboardTargets); an app can set others on `app.state.dashboard_targets`.
Every number comes from the statistics views (rollups), never from the calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from callrouter.domain.statistics import StatOutcome
from callrouter.domain.statistics_definitions import definition
from callrouter.domain.statistics_totals import Totals
from callrouter.services import statistics
from callrouter.services.statistics import StatsDeps
from callrouter.web.dashboard.query import Query

OUTCOMES_NL = {
    StatOutcome.ANSWERED: "Opgenomen", StatOutcome.TRANSFERRED: "Doorverbonden",
    StatOutcome.CALLBACK_REQUESTED: "Terugbelverzoek", StatOutcome.ABANDONED_IN_QUEUE: "Opgehangen in de wachtrij",
    StatOutcome.ABANDONED_IN_MENU: "Opgehangen in het menu", StatOutcome.CLOSED: "Gesloten",
    StatOutcome.NO_LIAISON: "Niemand aanwezig", StatOutcome.REFUSED: "Geweigerd", StatOutcome.FAILED: "Technische fout",
}
STATES_NL = {"goed": "Goed", "aandacht": "Aandacht", "slecht": "Slecht", "geen": "Geen gegevens",
             "info": "Ter informatie"}


@dataclass(frozen=True)
class Band:
    """good when the value is at least (higher_is_better) or at most `good`; attention up to `attention`."""

    good: float
    attention: float
    higher_is_better: bool

    def state(self, value: float | None) -> str:
        if value is None:
            return "geen"
        sign = 1 if self.higher_is_better else -1
        if sign * value >= sign * self.good:
            return "goed"
        return "aandacht" if sign * value >= sign * self.attention else "slecht"


@dataclass(frozen=True)
class DashboardTargets:
    """Default targets (in code; configurable per app): common contact-centre practice, not a norm."""

    answered_share: Band = Band(0.90, 0.80, True)
    service_level: Band = Band(0.80, 0.70, True)
    average_speed_of_answer_seconds: Band = Band(20, 60, False)
    abandoned_share: Band = Band(0.05, 0.10, False)
    callbacks_share: Band = Band(0.10, 0.20, False)


@dataclass(frozen=True)
class Figure:
    key: str  # the name in Totals.figures()
    label: str
    value: float | int | None
    shown: str  # the value in words and digits
    target: str
    state: str  # goed, aandacht, slecht, geen, info
    definition: str
    formula: str


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def secs(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s".replace(".", ",")


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _band_text(band: Band, fmt) -> str:  # type: ignore[no-untyped-def]
    word = "minstens" if band.higher_is_better else "hoogstens"
    return f"{word} {fmt(band.good)} (aandacht tot {fmt(band.attention)})"


def headline(totals: Totals, *, targets: DashboardTargets, threshold: int, short_abandon: float) -> list[Figure]:
    """The six figures of a view, each with its target, its state and its definition."""
    def make(key: str, label: str, value, shown: str, target: str, state: str, extra: str = "") -> Figure:  # type: ignore[no-untyped-def]
        found = definition(key, short_abandon_seconds=short_abandon)
        text = (found.nl if found else "") + extra
        return Figure(key, label, value, shown, target, state, text, found.formula if found else "")

    f = totals.figures()
    answered_share = _share(totals.answered, totals.offered)
    abandoned_share = _share(totals.abandoned, totals.offered)
    callbacks_share = _share(totals.callbacks_requested, totals.offered)
    level_key = f"service_level_{threshold}s"
    level = f.get(level_key)
    asa = totals.average_speed_of_answer_seconds
    t = targets
    return [
        make("offered", "Aangeboden gesprekken", totals.offered, str(totals.offered), "geen doel: dit is het volume",
             "info"),
        make("answered", "Opgenomen", totals.answered, f"{totals.answered} ({pct(answered_share)} van aangeboden)",
             _band_text(t.answered_share, pct) + " van de aangeboden gesprekken", t.answered_share.state(answered_share),
             " Het doel geldt voor het deel van de aangeboden gesprekken (opgenomen / aangeboden)."),
        make(level_key, f"Servicelevel binnen {threshold} seconden", level, pct(level),  # type: ignore[arg-type]
             _band_text(t.service_level, pct), t.service_level.state(level)),  # type: ignore[arg-type]
        make("average_speed_of_answer_seconds", "Gemiddelde wachttijd tot opnemen", asa, secs(asa),
             _band_text(t.average_speed_of_answer_seconds, secs), t.average_speed_of_answer_seconds.state(asa)),
        make("abandoned", "Opgehangen in de wachtrij", totals.abandoned,
             f"{totals.abandoned} ({pct(abandoned_share)} van aangeboden)",
             _band_text(t.abandoned_share, pct) + " van de aangeboden gesprekken", t.abandoned_share.state(abandoned_share),
             " Het doel geldt voor het deel van de aangeboden gesprekken (opgehangen / aangeboden)."),
        make("callbacks_requested", "Terugbelverzoeken", totals.callbacks_requested,
             f"{totals.callbacks_requested} ({pct(callbacks_share)} van aangeboden)",
             _band_text(t.callbacks_share, pct) + " van de aangeboden gesprekken", t.callbacks_share.state(callbacks_share),
             " Het doel geldt voor het deel van de aangeboden gesprekken (verzoeken / aangeboden)."),
    ]


@dataclass
class Dashboard:
    totals: Totals
    days: list[tuple[date, Totals]]  # every day of the period, empty days included
    hours: list[tuple[int, Totals]]  # every hour 0-23
    heat: list[tuple[str, str, Totals]]  # organisation, topic


def collect(deps: StatsDeps, query: Query) -> Dashboard:
    """Read the views the dashboard shows (three queries on the rollups)."""
    filters = query.filters()
    by_day = {r.bucket: r.totals for r in statistics.by_day(deps, first_day=query.first_day, last_day=query.last_day,
                                                             **filters)}
    total = Totals()
    for day_totals in by_day.values():
        total.merge(day_totals)
    span = (query.last_day - query.first_day).days + 1
    days = [(d, by_day.get(d, Totals())) for d in (query.first_day + timedelta(n) for n in range(span))]
    by_hour = {r.bucket: r.totals for r in statistics.by_hour_of_day(deps, first_day=query.first_day,
                                                                     last_day=query.last_day, **filters)}
    hours = [(h, by_hour.get(h, Totals())) for h in range(24)]
    per_org: dict[tuple[str, str], Totals] = {}
    for row in statistics.view(deps, grain="month", first_day=query.first_day, last_day=query.last_day,
                               by=("organisation", "topic"), **filters):
        key = (row.dimensions["organisation"], row.dimensions["topic"])
        per_org.setdefault(key, Totals()).merge(row.totals)
    heat = [(org, topic, t) for (org, topic), t in sorted(per_org.items()) if org]
    return Dashboard(total, days, hours, heat)


def outcome_mix(totals: Totals) -> list[tuple[str, str, int]]:
    """(key, Dutch name, count) per outcome in the fixed order, then calls still in progress."""
    rows = [(o.value, OUTCOMES_NL[o], totals.outcomes.get(o, 0)) for o in OUTCOMES_NL]
    return [*rows, ("in_progress", "Nog bezig", totals.in_progress)]
