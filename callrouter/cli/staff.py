"""`callrouter staff ...`: grant and revoke staff roles, list accounts (functioneel beheer)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from callrouter.adapters.sql.directory_repository import SqlDirectory
from callrouter.bootstrap import Record, open_record
from callrouter.config import Settings
from callrouter.domain.staff import Grant, GrantInvalid, Role

app = typer.Typer(help="Staff accounts (OpenID Connect logins) and their roles.", no_args_is_help=True)
ROLES = ", ".join(r.value for r in Role)


def _grant(role: str, organisation: str | None, liaison: str | None, directory: SqlDirectory) -> Grant:
    try:
        chosen = Role(role)
    except ValueError:
        raise typer.BadParameter(f"role must be one of {ROLES}", param_hint="--role") from None
    organisation = organisation.upper() if organisation else None
    if organisation and directory.organisation(organisation) is None:
        raise typer.BadParameter(f"no organisation {organisation} in the directory", param_hint="--organisation")
    liaison_id = None
    if liaison:
        found = directory.liaison_by_code(liaison)
        if found is None or found.organisation != organisation:
            raise typer.BadParameter(f"no liaison {liaison!r} of {organisation} in the directory", param_hint="--liaison")
        liaison_id = found.id
    try:
        return Grant(chosen, organisation, liaison_id).check()
    except GrantInvalid as exc:
        raise typer.BadParameter(str(exc)) from None


def _record() -> Record:
    return open_record(Settings())


@app.command("grant")
def grant(
    issuer: str = typer.Option(..., help="The provider's issuer URL, exactly as in CALLROUTER_OIDC_PROVIDERS."),
    subject: str = typer.Option(..., help="The account's subject (`sub`) at that provider; shown on 'no access yet'."),
    role: str = typer.Option(..., help=f"One of {ROLES}."),
    organisation: str | None = typer.Option(None, help="Organisation code (liaison and team_lead)."),
    liaison: str | None = typer.Option(None, help="Liaison code of the directory (liaison role)."),
) -> None:
    """Give an account a role (the account is created if it has not logged in yet)."""
    with _record() as record:
        chosen = _grant(role, organisation, liaison, record.directory)
        account = record.parts.staff_accounts.grant(issuer=issuer, subject=subject, grant=chosen, by="cli",
                                                    at=datetime.now(UTC))
    typer.echo(f"account {account.id}: {_roles(account.grants)}")


@app.command("revoke")
def revoke(
    issuer: str = typer.Option(...), subject: str = typer.Option(...), role: str = typer.Option(...),
    organisation: str | None = typer.Option(None),
) -> None:
    """Take a role away; it takes effect at the account's next request."""
    with _record() as record:
        removed = record.parts.staff_accounts.revoke(
            issuer=issuer, subject=subject, grant=Grant(Role(role), organisation.upper() if organisation else None))
    typer.echo("revoked" if removed else "no such grant")


def _roles(grants: tuple[Grant, ...]) -> str:
    return ", ".join(f"{g.role.value}" + (f"@{g.organisation}" if g.organisation else "")
                     + (f" (liaison {g.liaison_id})" if g.liaison_id is not None else "") for g in grants) or "no access"


@app.command("list")
def list_accounts() -> None:
    """Every account with its roles."""
    with _record() as record:
        for account in record.parts.staff_accounts.all():
            typer.echo(f"{account.id}\t{account.issuer}\t{account.subject}\t{_roles(account.grants)}")
