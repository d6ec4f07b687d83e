"""`callrouter staff grant/list/revoke` against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from callrouter.cli.staff import app
from tests.integration.conftest import directory_database

ISSUER = "https://login.uwv.example.nl"


@pytest.fixture()
def runner(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    directory_database(database_url, tmp_path, open_all_hours=True)
    monkeypatch.setenv("CALLROUTER_DATABASE_URL", database_url)
    return CliRunner()


def test_grant_list_and_revoke(runner: CliRunner) -> None:
    result = runner.invoke(app, ["grant", "--issuer", ISSUER, "--subject", "jan", "--role", "liaison",
                                 "--organisation", "UWV", "--liaison", "uwv-jan"])
    assert result.exit_code == 0, result.output
    assert "liaison@UWV" in result.output
    assert runner.invoke(app, ["grant", "--issuer", ISSUER, "--subject", "lead", "--role", "team_lead",
                               "--organisation", "uwv"]).exit_code == 0
    listed = runner.invoke(app, ["list"]).output
    assert f"{ISSUER}\tjan\tliaison@UWV" in listed and "team_lead@UWV" in listed
    assert runner.invoke(app, ["revoke", "--issuer", ISSUER, "--subject", "jan", "--role", "liaison",
                               "--organisation", "UWV"]).output.strip() == "revoked"
    assert f"{ISSUER}\tjan\tno access" in runner.invoke(app, ["list"]).output


@pytest.mark.parametrize("args", [
    ["--role", "liaison", "--organisation", "UWV"],  # no liaison
    ["--role", "liaison", "--organisation", "DUO", "--liaison", "uwv-jan"],  # liaison of another organisation
    ["--role", "team_lead"],  # no organisation
    ["--role", "supervisor", "--organisation", "UWV"],
    ["--role", "king"],
    ["--role", "team_lead", "--organisation", "XYZ"],
])
def test_a_grant_that_does_not_fit_is_refused(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, ["grant", "--issuer", ISSUER, "--subject", "x", *args])
    assert result.exit_code != 0
    assert "\tx\t" not in runner.invoke(app, ["list"]).output
