"""`callrouter retention ...`: what personal data is kept for how long, and applying it now."""

from __future__ import annotations

import typer

from callrouter.config import Settings
from callrouter.domain.retention import RULES

app = typer.Typer(help="Retention of personal data (docs/privacy.md).", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Each category of personal data: where it is, why, and how long it is kept (from the settings)."""
    from callrouter.bootstrap import retention_policy

    days = retention_policy(Settings()).days()
    for rule in RULES:
        typer.echo(f"{rule.category.value}: {days[rule.category]} days after {rule.counted_from}")
        typer.echo(f"  where:   {rule.where}\n  purpose: {rule.purpose}\n  then:    {rule.action}")


@app.command("run")
def run(dry_run: bool = typer.Option(False, "--dry-run", help="Count what is due; change nothing.")) -> None:
    """Apply every retention rule once (the cron worker does this every hour)."""
    from callrouter.bootstrap import open_record
    from callrouter.services.retention import run_retention

    with open_record(Settings()) as record:
        report = run_retention(record.parts.retention, dry_run=dry_run)
    for name, value in report.as_dict().items():
        typer.echo(f"{name}: {value}")
