"""The dashboard's numbers: the headline figures with their targets and states, and the data behind the charts.

Targets are defaults in code (DashboardTargets), overridden by the setting CALLROUTER_DASHBOARD_TARGETS
(parsed once at start-up by `targets_from_setting`, kept on `app.state.dashboard_targets`).
Every number comes from the statistics views (rollups), never from the calls.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date, timedelta

from callrouter.domain.statistics import StatOutcome
from callrouter.domain.statistics_definitions import definition
from callrouter.domain.statistics_totals import Totals
from callrouter.services.statistics import statistics
from callrouter.services.statistics.statistics import StatsDeps
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
    results_recorded_share: Band = Band(0.90, 0.70, True)  # conversations with the liaison's recorded result


SETTING = "CALLROUTER_DASHBOARD_TARGETS"


class TargetsInvalid(ValueError):
    """The dashboard targets setting cannot be used; the message names the setting and the figure."""


def _band_of(name: str, value: object, default: Band) -> Band:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise TargetsInvalid(f"{SETTING}: {name} needs [good, attention], two numbers; got {value!r}")
    good, attention = float(value[0]), float(value[1])
    if name.endswith("_seconds"):
        if good < 0 or attention < 0:
            raise TargetsInvalid(f"{SETTING}: {name} is in seconds, at least 0")
    elif not (0 <= good <= 1 and 0 <= attention <= 1):
        raise TargetsInvalid(f"{SETTING}: {name} is a share between 0 and 1 (0.8 is 80 %)")
    if (good < attention) if default.higher_is_better else (good > attention):
        word = "at least" if default.higher_is_better else "at most"
        raise TargetsInvalid(f"{SETTING}: for {name} 'good' must be {word} 'attention'")
    return Band(good, attention, default.higher_is_better)


def targets_from_setting(text: str) -> DashboardTargets:
    """The default targets with the setting's overrides, JSON {"figure": [good, attention]}; TargetsInvalid
    (naming the setting) for bad JSON, an unknown figure or a band that does not fit."""
    try:
        data = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise TargetsInvalid(f"{SETTING} is not valid JSON: {exc.msg} (position {exc.pos})") from None
    if not isinstance(data, dict):
        raise TargetsInvalid(f'{SETTING} must be a JSON object, e.g. {{"service_level": [0.85, 0.75]}}')
    defaults = DashboardTargets()
    known = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(DashboardTargets)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise TargetsInvalid(f"{SETTING}: unknown figure {unknown[0]!r}; known: {', '.join(known)}")
    return DashboardTargets(**{name: _band_of(name, value, known[name]) for name, value in data.items()})


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
    drills: tuple[tuple[str, str], ...] = ()  # (cijfer, link text): the calls behind the figure


# The drill-down's `cijfer` values: Dutch names of the figures that count calls (or callbacks).
DRILL_FIGURES_NL = {
    "ontvangen": ("received", "Binnengekomen gesprekken"), "aangeboden": ("offered", "Aangeboden gesprekken"),
    "opgenomen": ("answered", "Opgenomen gesprekken"),
    "beoordeeld": ("service_level_base", "Gesprekken die het servicelevel beoordeelt"),
    "opgehangen": ("abandoned", "Opgehangen in de wachtrij"),
    "kort-opgehangen": ("short_abandoned", "Kort opgehangen in de wachtrij"),
    "terugbellen": ("callbacks_requested", "Terugbelverzoeken"), "nog-bezig": ("in_progress", "Nog bezig"),
    "gesprekken": ("conversations", "Gesprekken (opgenomen en teruggebeld)"),
    "terugbelgesprekken": ("callback_conversations", "Terugbelgesprekken"),
    "met-resultaat": ("results_recorded", "Gesprekken met een vastgelegd resultaat"),
    "oordeel-gevraagd": ("verdicts_asked", "Bellers die de vraag na het gesprek hoorden"),
    "oordeel-gegeven": ("verdicts", "Bellers die de vraag na het gesprek beantwoordden"),
    "oordeel-ja": ("verdict_yes", "Oordeel: ja, beantwoord"), "oordeel-deels": ("verdict_partly", "Oordeel: deels"),
    "oordeel-nee": ("verdict_no", "Oordeel: nee, niet beantwoord"),
}


def drill_figures(thresholds: tuple[int, ...]) -> dict[str, tuple[str, str]]:
    """cijfer -> (figure key, Dutch name), with `binnen-norm` for the dashboard's threshold (the first)."""
    found = dict(DRILL_FIGURES_NL)
    found["binnen-norm"] = (f"answered_within_{thresholds[0]}s", f"Opgenomen binnen {thresholds[0]} seconden")
    for seconds in thresholds:
        found[f"binnen-{seconds}"] = (f"answered_within_{seconds}s", f"Opgenomen binnen {seconds} seconden")
    for outcome, name in OUTCOMES_NL.items():
        found[f"uitkomst-{outcome.value}"] = (f"outcome_{outcome.value}", f"Uitkomst: {name}")
    return found


def outcome_drill(key: str) -> str:
    """The cijfer of an outcome-mix row (an outcome value, or in_progress)."""
    return "nog-bezig" if key == "in_progress" else f"uitkomst-{key}"


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
        return Figure(key, label, value, shown, target, state, text, found.formula if found else "", drills[key])

    see = "Toon de gesprekken"
    drills = {
        "offered": (("aangeboden", see),), "answered": (("opgenomen", see),),
        f"service_level_{threshold}s": (("beoordeeld", "Toon de beoordeelde gesprekken"),
                                        ("binnen-norm", f"Toon de gesprekken binnen {threshold} seconden")),
        "average_speed_of_answer_seconds": (("opgenomen", "Toon de opgenomen gesprekken"),),
        "abandoned": (("opgehangen", see), ("kort-opgehangen", "Toon de korte ophangers")),
        "callbacks_requested": (("terugbellen", "Toon de terugbelverzoeken"),),
    }

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
        make(level_key, f"Servicelevel binnen {threshold} seconden", level, pct(level),
             _band_text(t.service_level, pct), t.service_level.state(level)),
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
    locations: list[tuple[str, Totals]] = dataclasses.field(default_factory=list)  # per counter


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
    per_location: dict[str, Totals] = {}
    for row in statistics.view(deps, grain="month", first_day=query.first_day, last_day=query.last_day,
                               by=("location",), **filters):
        per_location.setdefault(row.dimensions["location"], Totals()).merge(row.totals)
    locations = sorted((loc, t) for loc, t in per_location.items() if loc)
    return Dashboard(total, days, hours, heat, locations)


@dataclass(frozen=True)
class EvaluationRow:
    """One line of the evaluation tables: conversations, recorded results (with the target's state), verdicts."""

    key: str
    totals: Totals
    state: str


def evaluation(data: Dashboard, *, targets: DashboardTargets) -> dict[str, list[EvaluationRow]]:
    """Per organisation, per topic (ORG topic) and per counter: the rows of the evaluation tables."""
    band = targets.results_recorded_share
    per_org: dict[str, Totals] = {}
    for org, _topic, totals in data.heat:
        per_org.setdefault(org, Totals()).merge(totals)

    def row(key: str, totals: Totals) -> EvaluationRow:
        return EvaluationRow(key, totals, band.state(totals.results_recorded_share))

    return {"organisation": [row(org, t) for org, t in sorted(per_org.items())],
            "topic": [row(f"{org} {topic}", t) for org, topic, t in data.heat],
            "location": [row(loc, t) for loc, t in data.locations]}


def outcome_mix(totals: Totals) -> list[tuple[str, str, int]]:
    """(key, Dutch name, count) per outcome in the fixed order, then calls still in progress."""
    rows = [(o.value, OUTCOMES_NL[o], totals.outcomes.get(o, 0)) for o in OUTCOMES_NL]
    return [*rows, ("in_progress", "Nog bezig", totals.in_progress)]
