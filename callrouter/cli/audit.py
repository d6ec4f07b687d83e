"""`callrouter audit list`: who opened which call page, drill-down or export (functioneel beheer, auditors)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import typer

from callrouter.bootstrap import open_record
from callrouter.config import Settings
from callrouter.ports.audit import ACTIONS

app = typer.Typer(help="The staff audit log (docs/privacy.md).", no_args_is_help=True)


def _moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("a date or moment in ISO 8601, e.g. 2026-11-25 or 2026-11-25T09:00+01:00",
                                 param_hint=name) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@app.command("list")
def list_entries(
    since: str | None = typer.Option(None, "--since", help="from this date or moment (ISO 8601; default: 7 days ago)"),
    until: str | None = typer.Option(None, "--until", help="before this date or moment (ISO 8601)"),
    account: int | None = typer.Option(None, "--account", help="only this staff account id (`callrouter staff list`)"),
    action: str | None = typer.Option(None, "--action", help=f"only one of: {', '.join(ACTIONS)}"),
    limit: int = typer.Option(100, "--limit", min=1, max=100_000, help="at most this many, newest first"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
) -> None:
    """Entries of the audit log, newest first: moment (UTC), account, action, page, filters, source address."""
    if action is not None and action not in ACTIONS:
        raise typer.BadParameter(f"one of {', '.join(ACTIONS)}", param_hint="--action")
    start = _moment(since, "--since") or datetime.now(UTC) - timedelta(days=7)
    with open_record(Settings()) as record:
        entries = record.parts.audit.entries(since=start, until=_moment(until, "--until"), account_id=account,
                                             action=action, limit=limit)
    for entry in entries:
        if as_json:
            typer.echo(json.dumps({"at": entry.at.isoformat(), "account_id": entry.account_id,
                                   "account": entry.account, "action": entry.action, "target": entry.target,
                                   "filters": entry.filters, "origin": entry.origin}, ensure_ascii=False))
        else:
            filters = " ".join(f"{k}={v}" for k, v in entry.filters.items()) or "-"
            who = entry.account or ("API token or job" if entry.account_id == 0 else "?")
            typer.echo(f"{entry.at.astimezone(UTC).isoformat(timespec='seconds')} account={entry.account_id} "
                       f"({who}) {entry.action} {entry.target} {filters} origin={entry.origin}")
    if not entries:
        typer.echo("no entries")
