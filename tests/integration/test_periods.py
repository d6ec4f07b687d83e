"""Named periods and the comparison on SQLite and PostgreSQL: an administrator names periods (page and CLI), the
dashboard compares two periods or two counters over one period figure by figure from the rollups (also after
the calls are deleted), exports it as CSV; bad input is refused naming the field and changes nothing.

Calls (tests/integration/test_dashboard.py's helper), rolled up:
  Wednesday 18 November 2026 ("before"): UWV ww AMS answered after 40 s; UWV ww AMS hangs up after 90 s
  Wednesday 25 November 2026 ("pilot"):  UWV ww AMS answered after 15 s and after 10 s; UWV wia UTR answered
                                          after 100 s
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.adapters.sql.stats_repository import SqlStatsStore
from callrouter.domain.periods import PeriodInvalid, Side
from callrouter.domain.staff import Grant, Role
from callrouter.services.statistics import periods, statistics
from callrouter.services.statistics.statistics import StatsDeps
from tests.integration.conftest import FixedClock
from tests.integration.staff_fixtures import Staff
from tests.integration.test_dashboard import START, abandoned, answered, call, log_in_as

WEEK_BEFORE = START - timedelta(days=7)


@pytest.fixture()
def rolled_up(staff: Staff) -> Staff:
    sessions = staff.app.container.sessions
    store = SqlCallStore(sessions)
    call(store, "b1", 0, "UWV", "ww", "AMS", "professional", answered(40), day_start=WEEK_BEFORE)
    call(store, "b2", 2, "UWV", "ww", "AMS", "professional", abandoned(90), day_start=WEEK_BEFORE)
    call(store, "p1", 0, "UWV", "ww", "AMS", "professional", answered(15))
    call(store, "p2", 2, "UWV", "ww", "AMS", "professional", answered(10))
    call(store, "p3", 4, "UWV", "wia", "UTR", "professional", answered(100))
    deps = StatsDeps(store=SqlStatsStore(sessions), clock=FixedClock(START + timedelta(hours=1)))
    for day in (WEEK_BEFORE, START):
        statistics.rollup_since(deps, since=day, until=day + timedelta(minutes=30))
    store_periods = staff.app.container.parts.periods
    at = datetime(2026, 11, 1, tzinfo=UTC)
    periods.add_period(store_periods, name="voor de pilot", first_day=date(2026, 11, 16), last_day=date(2026, 11, 22),
                       at=at, by="test")
    periods.add_period(store_periods, name="pilot ruimere openingstijden Utrecht", first_day=date(2026, 11, 23),
                       last_day=date(2026, 11, 29), at=at, by="test")
    return staff


def rows_of(text: str) -> dict[str, dict[str, str]]:
    return {row["figure"]: row for row in csv.DictReader(io.StringIO(text))}


def test_two_periods_side_by_side_with_the_difference_and_a_csv(rolled_up: Staff) -> None:
    log_in_as(rolled_up, "sup", Grant(Role.SUPERVISOR))
    query = "links=voor de pilot&rechts=pilot ruimere openingstijden Utrecht"
    page = rolled_up.client.get(f"/staff/dashboard/vergelijken?{query}")
    assert page.status_code == 200, page.text[:500]
    assert '<tr data-figure="offered"><th scope="row">Aangeboden</th><td>2</td><td>3</td><td>1</td><td>50,0 %</td>' \
        in page.text
    assert '<tr data-figure="service_level_20s"><th scope="row">Servicelevel binnen 20 s</th><td>0,0 %</td>' \
        '<td>66,7 %</td>' in page.text
    exported = rolled_up.client.get(f"/staff/dashboard/vergelijken?{query}&format=csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = rows_of(exported.text)
    assert (rows["offered"]["left"], rows["offered"]["right"], rows["offered"]["difference"]) == ("2", "3", "1")
    assert rows["offered"]["relative_difference"] == "0.5"
    assert (rows["abandoned"]["left"], rows["abandoned"]["right"], rows["abandoned"]["difference"]) == ("1", "0", "-1")
    assert float(rows["service_level_20s"]["right"]) == pytest.approx(2 / 3)
    assert rows["answered_share"]["left"] == "0.5" and rows["answered_share"]["right"] == "1.0"
    assert rows["offered"]["left_period"] == "voor de pilot" and rows["offered"]["right_first_day"] == "2026-11-23"
    [entry] = rolled_up.app.container.parts.audit.entries(action="export")
    assert entry.target == "/staff/dashboard/vergelijken" and entry.filters["links"] == "voor de pilot"
    body = rolled_up.client.get(f"/staff/dashboard/vergelijken?{query}&format=json").json()
    assert body["periods_overlap"] is False and body["source"] == "15-minute rollups"
    assert {f["figure"]: f["difference"] for f in body["figures"]}["answered"] == 2


def test_two_counters_over_one_period(rolled_up: Staff) -> None:
    log_in_as(rolled_up, "sup", Grant(Role.SUPERVISOR))
    pilot = "pilot ruimere openingstijden Utrecht"
    exported = rolled_up.client.get(f"/staff/dashboard/vergelijken?links={pilot}&loket_links=AMS&loket_rechts=UTR"
                                    "&format=csv")
    assert exported.status_code == 200, exported.text
    rows = rows_of(exported.text)
    assert (rows["offered"]["left"], rows["offered"]["right"]) == ("2", "1")
    assert (rows["offered"]["left_counter"], rows["offered"]["right_counter"]) == ("AMS", "UTR")
    assert float(rows["average_speed_of_answer_seconds"]["left"]) == pytest.approx(12.5)
    assert float(rows["average_speed_of_answer_seconds"]["difference"]) == pytest.approx(87.5)


def test_the_comparison_reads_rollups_so_it_outlives_the_calls(rolled_up: Staff) -> None:
    deps = StatsDeps(store=rolled_up.app.container.parts.stats_store, clock=FixedClock(START))
    store = rolled_up.app.container.parts.periods
    left, right = (Side(periods.find(store, name, field="links")) for name in
                   ("voor de pilot", "pilot ruimere openingstijden Utrecht"))
    before = periods.compare(deps, left=left, right=right)
    with rolled_up.app.container.sessions.begin() as session:  # what the retention job does after 400 days
        session.execute(delete(CallEventRow))
        session.execute(delete(CallRow))
    after = periods.compare(deps, left=left, right=right)
    assert after.rows == before.rows
    assert {r.key: r.right for r in after.rows}["answered"] == 3


def test_an_administrator_names_a_period_in_the_page_and_bad_input_changes_nothing(rolled_up: Staff) -> None:
    log_in_as(rolled_up, "beheer", Grant(Role.ADMIN))
    csrf = rolled_up.csrf("/staff/dashboard/perioden")

    def post(naam: str, van: str, tot: str):  # type: ignore[no-untyped-def]
        return rolled_up.client.post("/staff/dashboard/perioden", data={"naam": naam, "van": van, "tot": tot,
                                                                        "csrf_token": csrf}, follow_redirects=False)

    added = post("  najaar   2026 ", "2026-09-01", "2026-11-30")
    assert added.status_code == 303 and "toegevoegd=najaar+2026" in added.headers["location"]
    names = [p.name for p in rolled_up.app.container.parts.periods.all()]
    assert "najaar 2026" in names
    for naam, van, tot, field, words in (
            ("winter", "2026-12-31", "2026-12-01", "tot", "voor de begindatum"),
            ("voor de pilot", "2026-01-01", "2026-01-31", "naam", "al in gebruik"),
            ("Pilot ruimere openingstijden, UTRECHT!", "2026-01-01", "2026-01-31", "naam", "valt samen met"),
            ("Voor dé pilot", "2026-01-01", "2026-01-31", "naam", "valt samen met"),
            ("x", "2026-01-01", "2026-01-31", "naam", "naam van 3 tot 80"),
            ("winter", "1-12-2026", "2026-12-31", "van", "geen geldige datum"),
            ("lang", "2020-01-01", "2026-12-31", "tot", "langer dan 732")):
        refused = post(naam, van, tot)
        assert refused.status_code == 422, naam
        assert f"(veld: {field})" in refused.text and words in refused.text, (naam, refused.text[-800:])
    assert sorted(p.name for p in rolled_up.app.container.parts.periods.all()) == sorted(names)
    # periods may overlap in time: a pilot inside the autumn it is compared with
    page = rolled_up.client.get("/staff/dashboard/vergelijken?links=najaar 2026&rechts=voor de pilot")
    assert page.status_code == 200 and "de perioden overlappen" in page.text


def test_unknown_periods_counters_and_roles_are_refused_naming_the_field(rolled_up: Staff) -> None:
    log_in_as(rolled_up, "sup", Grant(Role.SUPERVISOR))
    for query, field in (("links=bestaat niet&rechts=voor de pilot", "links"),
                         ("links=voor de pilot&rechts=bestaat niet", "rechts"),
                         ("links=voor de pilot", "rechts"),  # the same period, no counters: nothing to compare
                         ("links=voor de pilot&loket_links=XXX&loket_rechts=AMS", "loket_links"),
                         ("links=voor de pilot&rechts=voor de pilot&organisatie=ABC", "organisatie"),
                         ("links=voor de pilot&rechts=voor de pilot&kleur=rood", "kleur")):
        response = rolled_up.client.get(f"/staff/dashboard/vergelijken?{query}&format=json")
        assert response.status_code == 422, query
        assert response.json()["field"] == field, query
    csrf = rolled_up.csrf("/staff/dashboard/perioden")
    refused = rolled_up.client.post("/staff/dashboard/perioden", data={"naam": "mag niet", "van": "2026-01-01",
                                                                       "tot": "2026-01-02", "csrf_token": csrf})
    assert refused.status_code == 403  # a supervisor reads periods, an administrator names them
    assert "mag niet" not in [p.name for p in rolled_up.app.container.parts.periods.all()]
    assert rolled_up.app.container.parts.audit.entries(action="export") == []


def test_a_team_lead_compares_only_their_own_organisation(rolled_up: Staff) -> None:
    log_in_as(rolled_up, "lead", Grant(Role.TEAM_LEAD, "DUO"))
    query = "links=voor de pilot&rechts=pilot ruimere openingstijden Utrecht&format=csv"
    rows = rows_of(rolled_up.client.get(f"/staff/dashboard/vergelijken?{query}").text)
    assert (rows["offered"]["left"], rows["offered"]["right"], rows["offered"]["organisation"]) == ("0", "0", "DUO")
    assert rolled_up.client.get(f"/staff/dashboard/vergelijken?{query}&organisatie=UWV").status_code == 403


def test_the_cli_names_lists_and_refuses(rolled_up: Staff, monkeypatch: pytest.MonkeyPatch) -> None:
    from callrouter.cli.app import app as cli

    monkeypatch.setenv("CALLROUTER_DATABASE_URL", rolled_up.app.container.settings.database_url)
    runner = CliRunner()
    done = runner.invoke(cli, ["periods", "add", "--name", "Q1 2026", "--from", "2026-01-01", "--to", "2026-03-31"])
    assert done.exit_code == 0, done.output
    assert "90 days" in done.output
    listed = runner.invoke(cli, ["periods", "list"])
    assert "Q1 2026" in listed.output and "voor de pilot" in listed.output
    for args, option in ((["--name", "q1-2026", "--from", "2026-04-01", "--to", "2026-04-30"], "--name"),
                         (["--name", "Q2 2026", "--from", "2026-06-30", "--to", "2026-04-01"], "--to"),
                         (["--name", "Q2 2026", "--from", "2026-13-01", "--to", "2026-04-01"], "--from")):
        refused = runner.invoke(cli, ["periods", "add", *args])
        assert refused.exit_code != 0 and option in refused.output, refused.output
    assert [p.name for p in rolled_up.app.container.parts.periods.all()].count("Q1 2026") == 1
    assert "Q2 2026" not in [p.name for p in rolled_up.app.container.parts.periods.all()]
    assert runner.invoke(cli, ["periods", "remove", "--name", "Q1 2026"]).exit_code == 0
    assert runner.invoke(cli, ["periods", "remove", "--name", "Q1 2026"]).exit_code != 0


def test_the_store_refuses_a_name_that_another_process_stored_meanwhile(rolled_up: Staff) -> None:
    store = rolled_up.app.container.parts.periods
    clash = periods.check_new(name="VOOR DE PILOT", first_day=date(2026, 1, 1), last_day=date(2026, 1, 2), existing=[])
    with pytest.raises(PeriodInvalid) as refused:
        store.add(clash, at=datetime.now(UTC), by="test")  # the unique name key decides
    assert refused.value.field == "naam"
