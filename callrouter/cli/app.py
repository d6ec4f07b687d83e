"""The `callrouter` command: database, directory, live state."""

from __future__ import annotations

import typer

from callrouter.cli.audit import app as audit_app
from callrouter.cli.demo import app as demo_app
from callrouter.cli.directory import app as directory_app
from callrouter.cli.periods import app as periods_app
from callrouter.cli.retention import app as retention_app
from callrouter.cli.rq_commands import cron, worker
from callrouter.cli.security import app as security_app
from callrouter.cli.staff import app as staff_app
from callrouter.config import Settings

app = typer.Typer(help="callrouter: queue and call routing for the professional lines.", no_args_is_help=True)
db_app = typer.Typer(help="The SQL database.", no_args_is_help=True)
live_app = typer.Typer(help="Live state in Redis.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(directory_app, name="directory")
app.add_typer(live_app, name="live")
app.add_typer(demo_app, name="demo")
app.add_typer(staff_app, name="staff")
app.add_typer(retention_app, name="retention")
app.add_typer(security_app, name="security")
app.add_typer(audit_app, name="audit")
app.add_typer(periods_app, name="periods")
app.command("worker")(worker)
app.command("cron")(cron)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Alembic revision to upgrade to.")) -> None:
    """Apply the migrations (creates the SQLite file when needed)."""
    from callrouter.adapters.sql.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@live_app.command("rebuild")
def live_rebuild() -> None:
    """Rebuild queues and presence in Redis from the SQL record (after a Redis restart or flush)."""
    from callrouter.bootstrap import build
    from callrouter.services.calls.live_state import rebuild_live_state

    container = build(Settings())
    try:
        report = rebuild_live_state(container.voice)
        typer.echo(f"rebuilt {report.organisations} organisation(s): {report.waiting} waiting call(s), "
                   f"{report.liaisons} liaison(s)")
    finally:
        container.close()


if __name__ == "__main__":
    app()
