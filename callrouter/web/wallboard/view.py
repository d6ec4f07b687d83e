"""What the wallboard shows: seven figures with target and state in words, a row per queue, liaisons per
organisation; the same values for the page and for the poller's JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from callrouter.domain.queueing import ANY_TOPIC
from callrouter.ports.calls import Directory
from callrouter.services.statistics.wallboard import PRESENCES, LiveFigures, Wallboard
from callrouter.web.dashboard.figures import STATES_NL, Band, DashboardTargets, pct
from callrouter.web.dashboard.query import LINE_KINDS_NL

# The longest wait now: a callback is offered once the expected wait passes two minutes (UX.md).
OLDEST_WAIT = Band(60, 120, False)
PRESENCE_NL = {"available": "Beschikbaar", "busy": "In gesprek", "wrap_up": "Nawerk", "away": "Afwezig",
               "offline": "Niet aangemeld"}
ROW_HEADERS = ("Organisatie", "Onderwerp", "Loket", "Soort lijn", "Wachtend", "Langste wachttijd", "Opgenomen",
               "Opgehangen", "Servicelevel")


@dataclass(frozen=True)
class LiveFigure:
    key: str
    label: str
    shown: str
    target: str
    state: str  # goed, aandacht, slecht, geen, info
    state_text: str
    definition: str


def duration(seconds: float | None) -> str:
    """45 s, 2 min 05 s; a dash when there is nothing to time."""
    if seconds is None:
        return "–"
    whole = int(seconds)
    return f"{whole} s" if whole < 60 else f"{whole // 60} min {whole % 60:02d} s"


def _target(band: Band, fmt: Callable[[float], str]) -> str:
    word = "minstens" if band.higher_is_better else "hoogstens"
    return f"{word} {fmt(band.good)} (aandacht tot {fmt(band.attention)})"


def _figure(key: str, label: str, shown: str, target: str, state: str, definition: str) -> LiveFigure:
    return LiveFigure(key, label, shown, target, state, STATES_NL[state], definition)


def _liaison_state(available: int, waiting: int) -> str:
    if available:
        return "goed"
    return "slecht" if waiting else "aandacht"


def figures(board: Wallboard, *, targets: DashboardTargets, threshold: int, short_abandon: float) -> list[LiveFigure]:
    t = board.totals
    oldest = t.oldest_wait_seconds(board.now)
    lia = board.liaison_totals
    abandoned_share = t.abandoned / t.offered if t.offered else None
    others = ", ".join(f"{lia[str(p)]} {PRESENCE_NL[str(p)].lower()}" for p in PRESENCES[1:])
    return [
        _figure("waiting", "Wachtende gesprekken", str(t.waiting), "geen doel: dit is het aantal nu", "info",
                "Gesprekken die nu in de wachtrij staan of bij een medewerker overgaan."),
        _figure("oldest_wait", "Langste wachttijd nu", duration(oldest), _target(OLDEST_WAIT, duration),
                OLDEST_WAIT.state(oldest),
                "Hoe lang het gesprek dat het langst wacht al wacht. Na 2 minuten wordt terugbellen aangeboden."),
        _figure("on_hold", "In de wacht voor overleg",
                str(t.on_hold) + (f" (langste {duration(t.longest_hold_seconds(board.now))})" if t.on_hold else ""),
                "geen doel: dit is het aantal nu", "info",
                "Bellers die nu in de wacht staan terwijl hun medewerker overlegt met een andere organisatie (van de "
                "vraag om overleg tot het afronden, terugnemen of samen in gesprek gaan). Ze tellen niet bij de "
                "wachtende gesprekken."),
        _figure("available", "Beschikbare medewerkers",
                f"{lia['available']} van {sum(lia.values()) - lia['offline']} aangemeld",
                "minstens 1 zolang er gesprekken wachten", _liaison_state(lia["available"], t.waiting),
                f"Medewerkers van de organisatie (bij een onderwerp: die het onderwerp kennen) die nu een gesprek "
                f"kunnen aannemen; de anderen: {others}."),
        _figure("answered", "Opgenomen vandaag", f"{t.answered} van {t.offered} aangeboden",
                "geen doel: zie het servicelevel", "info",
                "Gesprekken van vandaag die een medewerker opnam (aangeboden: in de wachtrij gekomen)."),
        _figure("abandoned", "Opgehangen in de wachtrij vandaag",
                f"{t.abandoned} ({pct(abandoned_share)} van aangeboden)",
                _target(targets.abandoned_share, pct) + " van de aangeboden gesprekken",
                targets.abandoned_share.state(abandoned_share),
                f"Bellers die ophingen terwijl ze wachtten; {t.short_abandoned} daarvan binnen "
                f"{short_abandon:g} seconden (korte ophangers)."),
        _figure(f"service_level_{threshold}s", f"Servicelevel vandaag (binnen {threshold} seconden)",
                pct(t.service_level), _target(targets.service_level, pct), targets.service_level.state(t.service_level),
                f"Opgenomen binnen {threshold} s / (opgenomen + opgehangen - korte ophangers binnen "
                f"{short_abandon:g} s). Korte ophangers tellen niet mee; geen cijfer zonder beoordeelde gesprekken."),
    ]


@dataclass(frozen=True)
class Names:
    """Dutch names for codes, from the cached directory (no SQL query per poll)."""

    directory: Directory

    def organisation(self, code: str) -> str:
        org = self.directory.organisation(code)
        return org.name if org else (code or "onbekend")

    def topic(self, org_code: str, code: str) -> str:
        if code == ANY_TOPIC:
            return "Elke medewerker"
        org = self.directory.organisation(org_code)
        topic = org.topic(code) if org else None
        return topic.name_nl if topic else (code or "onbekend")

    def location(self, code: str) -> str:
        loc = self.directory.location(code) if code else None
        return loc.name if loc else (code or "geen (burgerlijn)")


def _with_state(text: str, state: str) -> str:
    return text if state in ("geen", "info") else f"{text} ({STATES_NL[state]})"


def row_cells(names: Names, dims: tuple[str, str, str, str], f: LiveFigures, board: Wallboard,
              targets: DashboardTargets) -> list[str]:
    org, topic, location, kind = dims
    oldest = f.oldest_wait_seconds(board.now)
    oldest_text = _with_state(duration(oldest), OLDEST_WAIT.state(oldest)) if f.waiting else "–"
    return [names.organisation(org), names.topic(org, topic), names.location(location), LINE_KINDS_NL.get(kind, kind),
            str(f.waiting), oldest_text, str(f.answered), str(f.abandoned),
            _with_state(pct(f.service_level), targets.service_level.state(f.service_level))]


def numbers(f: LiveFigures, board: Wallboard) -> dict[str, Any]:
    return {"waiting": f.waiting, "oldest_wait_seconds": f.oldest_wait_seconds(board.now), "offered": f.offered,
            "answered": f.answered, "answered_within": f.answered_within, "abandoned": f.abandoned,
            "short_abandoned": f.short_abandoned, "service_level": f.service_level, "on_hold": f.on_hold,
            "longest_hold_seconds": f.longest_hold_seconds(board.now)}


def page_values(board: Wallboard, names: Names, *, targets: DashboardTargets, threshold: int,
                short_abandon: float) -> dict[str, Any]:
    """Everything the page and the poller show, as plain values."""
    rows = [{"dimensions": dict(zip(("organisation", "topic", "location", "line_kind"), r.dims, strict=True)),
             "cells": row_cells(names, r.dims, r.figures, board, targets), "numbers": numbers(r.figures, board)}
            for r in board.rows]
    liaisons = [{"organisation": org, "cells": [names.organisation(org), *(str(c[str(p)]) for p in PRESENCES)],
                 "numbers": c} for org, c in sorted(board.liaisons.items())]
    return {
        "day": board.day.isoformat(), "updated": board.now.strftime("%H:%M:%S"),
        "figures": [asdict(f) for f in figures(board, targets=targets, threshold=threshold, short_abandon=short_abandon)],
        "totals": numbers(board.totals, board), "liaison_totals": board.liaison_totals,
        "rows": rows, "liaisons": liaisons,
    }
