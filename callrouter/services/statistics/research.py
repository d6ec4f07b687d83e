"""The research export as a stream: the period checked, then the calls read in batches and written out
as CSV or JSON one batch at a time, so a year of calls never sits in memory.

The web edge (staff page and JSON API) and the weekly job call `export_chunks`; each writes the audit row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from callrouter.domain.research import COLUMNS, ExportRefused, ResearchCall, check_period, csv_cell, research_row
from callrouter.domain.statistics_intervals import period_bounds

FORMATS = ("csv", "json")
BATCH = 2000


class ResearchSource(Protocol):
    def calls(self, *, start: datetime, end: datetime, batch: int) -> Iterator[list[ResearchCall]]:
        """The calls that arrived in [start, end), in order of arrival, `batch` at a time."""
        ...


@dataclass(frozen=True)
class ResearchDeps:
    source: ResearchSource
    pseudonym_key: bytes
    kept_days: int  # CALLROUTER_RETENTION_CALL_RECORD_DAYS
    zone: ZoneInfo


@dataclass(frozen=True)
class ExportAsk:
    first_day: date
    last_day: date
    format: str


def ask(*, first_day: date, last_day: date, fmt: str, kept_days: int,
        names: tuple[str, str, str] = ("from", "to", "format")) -> ExportAsk:
    """The export asked for, or ExportRefused naming the field (`names`: the fields as the caller sent them)."""
    if fmt not in FORMATS:
        raise ExportRefused(names[2], f"Unknown format {fmt[:20]!r}; choose csv or json.",
                            f"Onbekend formaat {fmt[:20]!r}; kies csv of json.")
    check_period(first_day=first_day, last_day=last_day, kept_days=kept_days, names=(names[0], names[1]))
    return ExportAsk(first_day, last_day, fmt)


def file_name(asked: ExportAsk) -> str:
    return f"callrouter-onderzoek-{asked.first_day.isoformat()}-{asked.last_day.isoformat()}.{asked.format}"


def export_chunks(deps: ResearchDeps, asked: ExportAsk) -> Iterator[str]:
    """The export's text, a batch of rows at a time (CSV with a header row; JSON: one object, a row per line)."""
    start, end = period_bounds(first_day=asked.first_day, last_day=asked.last_day, zone=deps.zone)
    batches = deps.source.calls(start=start, end=end, batch=BATCH)
    if asked.format == "csv":
        yield from _csv(deps, batches)
    else:
        yield from _json(deps, asked, batches)


def _csv(deps: ResearchDeps, batches: Iterator[list[ResearchCall]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield out.getvalue()
    for batch in batches:
        out.seek(0)
        out.truncate()
        for call in batch:
            row = research_row(call, key=deps.pseudonym_key, zone=deps.zone)
            writer.writerow([csv_cell(row[c]) for c in COLUMNS])
        yield out.getvalue()


def _json(deps: ResearchDeps, asked: ExportAsk, batches: Iterator[list[ResearchCall]]) -> Iterator[str]:
    head = {"period": {"first_day": asked.first_day.isoformat(), "last_day": asked.last_day.isoformat(),
                       "zone": str(deps.zone)},
            "columns": list(COLUMNS), "dictionary": "docs/research-export.md"}
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": [\n'
    first = True
    for batch in batches:
        lines = []
        for call in batch:
            lines.append(("" if first else ",\n") + json.dumps(research_row(call, key=deps.pseudonym_key,
                                                                            zone=deps.zone), ensure_ascii=False))
            first = False
        if lines:
            yield "".join(lines)
    yield "\n]}\n"


def previous_week(today: date) -> tuple[date, date]:
    """Monday to Sunday of the ISO week before the one `today` is in."""
    monday = today - timedelta(days=today.weekday()) - timedelta(days=7)
    return monday, monday + timedelta(days=6)


__all__ = ["BATCH", "FORMATS", "ExportAsk", "ExportRefused", "ResearchDeps", "ResearchSource", "ask",
           "export_chunks", "file_name", "previous_week"]
