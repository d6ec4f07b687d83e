"""`callrouter periods ...`: named evaluation periods (functioneel beheer), compared on the dashboard."""

from __future__ import annotations

from datetime import UTC, date, datetime

import typer

from callrouter.bootstrap import open_record
from callrouter.config import Settings
from callrouter.domain.periods import PeriodInvalid
from callrouter.services.statistics import periods

app = typer.Typer(help="Named periods for evaluation (/staff/dashboard/perioden).", no_args_is_help=True)


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("a date yyyy-mm-dd, e.g. 2026-03-01", param_hint=option) from None


@app.command("add")
def add(name: str = typer.Option(..., "--name", help='e.g. "pilot ruimere openingstijden Utrecht"'),
        first: str = typer.Option(..., "--from", help="first day, yyyy-mm-dd (local days, Europe/Amsterdam)"),
        last: str = typer.Option(..., "--to", help="last day, inclusive")) -> None:
    """Name a period; refused (nothing stored) when the name is in use or overlaps one, or the dates do not fit."""
    first_day, last_day = _day(first, "--from"), _day(last, "--to")
    with open_record(Settings()) as record:
        try:
            added = periods.add_period(record.parts.periods, name=name, first_day=first_day, last_day=last_day,
                                       at=datetime.now(UTC), by="cli")
        except PeriodInvalid as exc:
            option = {"naam": "--name", "van": "--from", "tot": "--to"}.get(exc.field, exc.field)
            raise typer.BadParameter(exc.message, param_hint=option) from None
    typer.echo(f"period '{added.name}': {added.first_day.isoformat()} to {added.last_day.isoformat()} "
               f"({added.days} days)")


@app.command("list")
def list_periods() -> None:
    """Every named period, the most recent first."""
    with open_record(Settings()) as record:
        found = record.parts.periods.all()
    for period in found:
        typer.echo(f"{period.first_day.isoformat()}\t{period.last_day.isoformat()}\t{period.name}")
    if not found:
        typer.echo("no periods")


@app.command("remove")
def remove(name: str = typer.Option(..., "--name")) -> None:
    """Remove a named period (its figures stay: they are the rollups)."""
    with open_record(Settings()) as record:
        if not record.parts.periods.remove(" ".join(name.split())):
            raise typer.BadParameter(f"no period named {name!r}", param_hint="--name")
    typer.echo(f"period '{name}' removed")
