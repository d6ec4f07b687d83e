"""Geometry for the server-rendered SVG charts (the templates draw them; every number is also in a table).

Colours are SVG presentation attributes (allowed by the CSP, unlike style attributes) and have at least
3:1 contrast against white: OFFERED #154273 (10.4:1), ANSWERED #a14f00 (5.6:1), axis #6b6b6b (5.3:1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from callrouter.domain.statistics_totals import Totals

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 40
OFFERED, ANSWERED, AXIS, TARGET = "#154273", "#a14f00", "#6b6b6b", "#1d5e20"


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class Tick:
    position: float
    label: str


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # polyline points
    points: list[Bar] = field(default_factory=list)  # circles: x, y and title (width = radius)
    target_y: float | None = None
    target_label: str = ""

    @property
    def plot_bottom(self) -> float:
        return self.height - BOTTOM

    @property
    def plot_right(self) -> float:
        return self.width - RIGHT


def nice_max(value: int) -> int:
    """A round upper bound for an axis: 1, 2, 5, 10, 20, 50, ..."""
    if value <= 1:
        return 1
    magnitude = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return int(step * magnitude)
    return int(10 * magnitude)


def _y(value: float, top: float) -> float:
    return round(TOP + (HEIGHT - BOTTOM - TOP) * (1 - value / top), 1)


def _y_ticks(top: int, fmt) -> list[Tick]:  # type: ignore[no-untyped-def]
    return [Tick(_y(top * share, top), fmt(top * share)) for share in (0, 0.5, 1)]


def hourly(hours: list[tuple[int, Totals]]) -> tuple[Chart, list[tuple[int, Totals]]]:
    """Offered and answered per hour of day, over the hours 7-19 and any other hour with calls."""
    busy = [h for h, t in hours if t.received]
    first, last = min([7, *busy]), max([19, *busy])
    shown = [(h, t) for h, t in hours if first <= h <= last]
    top = nice_max(max([t.offered for _, t in shown] + [1]))
    chart = Chart(y_ticks=_y_ticks(top, lambda v: f"{v:g}"))
    slot = (WIDTH - LEFT - RIGHT) / len(shown)
    bar = slot * 0.38
    for index, (hour, totals) in enumerate(shown):
        x = LEFT + index * slot + slot * 0.1
        for offset, value, colour, name in ((0, totals.offered, OFFERED, "aangeboden"),
                                            (bar, totals.answered, ANSWERED, "opgenomen")):
            y = _y(value, top)
            chart.bars.append(Bar(round(x + offset, 1), y, round(bar, 1), round(HEIGHT - BOTTOM - y, 1), colour,
                                  f"{hour:02d}:00-{hour + 1:02d}:00: {value} {name}"))
        chart.x_ticks.append(Tick(round(x + bar, 1), f"{hour:02d}"))
    return chart, shown


def trend(days: list[tuple[date, float | None]], *, target: float) -> Chart:
    """Service level per day as a line (broken where a day has no figure), with the target as a dashed line."""
    chart = Chart(y_ticks=_y_ticks(100, lambda v: f"{v:g} %"), target_y=_y(target * 100, 100),
                  target_label=f"doel {target * 100:g} %")
    slot = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    every = max(1, math.ceil(len(days) / 10))
    run: list[str] = []
    for index, (day, level) in enumerate(days):
        x = round(LEFT + slot * (index + 0.5), 1)
        if index % every == 0:
            chart.x_ticks.append(Tick(x, day.strftime("%d-%m")))
        if level is None:
            if run:
                chart.lines.append(" ".join(run))
            run = []
            continue
        y = _y(level * 100, 100)
        run.append(f"{x},{y}")
        chart.points.append(Bar(x, y, 4, 0, OFFERED, f"{day.strftime('%d-%m-%Y')}: {level * 100:.1f} %"))
    if run:
        chart.lines.append(" ".join(run))
    return chart


def outcome_bars(rows: list[tuple[str, str, int]]) -> Chart:
    """Horizontal bars, one per outcome, the count written next to each."""
    height = TOP + 26 * len(rows) + 8
    top = nice_max(max([count for _, _, count in rows] + [1]))
    chart = Chart(height=height)
    label_width, usable = 210, WIDTH - 210 - 60
    for index, (_key, name, count) in enumerate(rows):
        y = TOP + 26 * index
        chart.bars.append(Bar(label_width, y, round(usable * count / top, 1), 18, OFFERED, f"{name}: {count}"))
        chart.y_ticks.append(Tick(y + 13, name))
    return chart
