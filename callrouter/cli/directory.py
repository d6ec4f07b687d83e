"""`callrouter directory ...`: import or check the directory file, hash a PIN for it."""

from __future__ import annotations

from pathlib import Path

import typer

from callrouter.adapters.directory_yaml import PIN, PIN_MAX_DIGITS, PIN_MIN_DIGITS, DirectoryFileInvalid
from callrouter.adapters.pins import Argon2Pins
from callrouter.adapters.sql.directory_import import check_directory_file, import_directory
from callrouter.bootstrap import open_record
from callrouter.config import Settings

app = typer.Typer(help="The directory: organisations, topics, locations, caseworkers, liaisons, lines.", no_args_is_help=True)


def _fail(error: DirectoryFileInvalid) -> typer.Exit:
    for message in error.messages:
        typer.echo(message, err=True)
    typer.echo(f"{len(error.messages)} problem(s); nothing was written.", err=True)
    return typer.Exit(code=1)


@app.command("import")
def import_command(path: Path = typer.Argument(..., help="The directory file (YAML).")) -> None:
    """Check the file and make the database match it, in one transaction (nothing is written if it has errors)."""
    with open_record(Settings()) as record:
        try:
            report = import_directory(path=path, session_factory=record.sessions, hasher=Argon2Pins())
        except DirectoryFileInvalid as error:
            raise _fail(error) from None
    for line in report.summary():
        typer.echo(line)
    if not report.changed:
        typer.echo("Nothing changed.")


@app.command("check")
def check_command(path: Path = typer.Argument(..., help="The directory file (YAML).")) -> None:
    """Check the file only; prints every problem as file:line: message."""
    try:
        directory = check_directory_file(path=path)
    except DirectoryFileInvalid as error:
        raise _fail(error) from None
    typer.echo(
        f"{path}: valid: {len(directory.organisations)} organisations, {len(directory.locations)} locations, "
        f"{len(directory.caseworkers)} caseworkers, {len(directory.liaisons)} liaisons, {len(directory.lines)} lines"
    )


@app.command("hash-pin")
def hash_pin_command() -> None:
    """Ask for a PIN (8-12 digits, docs/security.md) and print its argon2 hash, for `pin_hash:` in the directory file."""
    pin = typer.prompt("PIN", hide_input=True, confirmation_prompt=True)
    if not PIN.fullmatch(pin):
        typer.echo(f"A PIN is {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits (docs/security.md).", err=True)
        raise typer.Exit(code=1)
    typer.echo(Argon2Pins().hash(pin))
