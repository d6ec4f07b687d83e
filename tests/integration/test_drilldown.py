"""The drill-down in-process on a real database: each figure opens to as many calls as it counts, roles,
masked numbers, per-liaison figures off by default, exports, paging and bad queries.

The calls are those of tests/integration/test_dashboard.py (Wednesday 25-11-2026 from 09:00 Amsterdam),
plus two with noisy status callbacks (n1: the end status twice and a stale `ringing` after it, answered
after 20 s by Jan; n2: its abandon status delivered before its `queued` event was written, waited 8 s),
and one callback asked for by d2 (number +31612345678). By hand, with n1 and n2:
offered 9, answered 5, abandoned 3, short 1, judged 5 + 3 - 1 = 7, within 20 s 3 (u1 u5 n1),
callbacks requested 1, in hour 09: offered 9; UWV x ww offered 6.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.callback_tables import CallbackEventRow, CallbackRow
from callrouter.adapters.sql.outcome_repository import SqlOutcomes
from callrouter.adapters.sql.stats_repository import SqlStatsStore
from callrouter.domain.calls import EventKind
from callrouter.domain.staff import ConversationResult, Grant, Role
from callrouter.services.statistics import statistics
from callrouter.services.statistics.statistics import StatsDeps
from tests.integration.conftest import FixedClock
from tests.integration.staff_fixtures import Staff
from tests.integration.test_dashboard import START, answered, call, log_in_as, staff_with_calls  # noqa: F401 - a fixture

K = EventKind
DRILL = "/staff/dashboard/oproepen"


def noisy_calls(staff: Staff) -> None:
    store = SqlCallStore(staff.app.container.sessions)
    jan = staff.liaison_id("uwv-jan")
    call(store, "n1", 10, "UWV", "ww", "AMS", "professional", [
        (K.QUEUED, 10, {}), (K.STATUS, 90, {"status": "completed", "sequence": 3}),
        (K.ANSWERED, 30, {"liaison": jan}), (K.STATUS, 90, {"status": "completed", "sequence": 3}),
        (K.COMPLETED, 90, {"status": "completed"}), (K.STATUS, 95, {"status": "ringing", "sequence": 0})])
    call(store, "n2", 12, "UWV", "ww", "AMS", "professional", [
        (K.STATUS, 18, {"status": "completed", "sequence": 2}), (K.QUEUED, 10, {}),
        (K.ABANDONED, 18, {"status": "completed"})])
    with staff.app.container.sessions.begin() as session:
        d2 = START + timedelta(minutes=22, seconds=150)
        row = CallbackRow(state="scheduled", origin="in_queue", organisation="DUO", topic="studiefinanciering",
                          priority_class="cit", phone_number="+31612345678", line_number="+31850001000", place_at=d2,
                          due_at=d2, expires_at=d2 + timedelta(hours=8), attempts=0, max_attempts=3, created_at=d2,
                          location="ENS", call_sid="d2")
        session.add(row)
        session.flush()
        session.add(CallbackEventRow(callback_id=row.id, at=d2, from_state=None, to_state="requested",
                                     cause="caller", detail={}))
    deps = StatsDeps(store=SqlStatsStore(staff.app.container.sessions), clock=FixedClock(START + timedelta(hours=1)))
    statistics.rollup_since(deps, since=START, until=START + timedelta(minutes=45))


@pytest.fixture()
def noisy(staff_with_calls: Staff) -> Staff:  # noqa: F811 - the imported fixture
    noisy_calls(staff_with_calls)
    return staff_with_calls


FIGURES = {"aangeboden": "offered", "opgenomen": "answered", "binnen-norm": "answered_within_20s",
           "binnen-60": "answered_within_60s", "opgehangen": "abandoned", "kort-opgehangen": "short_abandoned",
           "terugbellen": "callbacks_requested", "ontvangen": "received", "nog-bezig": "in_progress",
           **{f"uitkomst-{o}": f"outcome_{o}" for o in ("answered", "abandoned_in_queue", "abandoned_in_menu",
                                                         "callback_requested", "closed", "no_liaison", "refused",
                                                         "transferred", "failed")}}


@pytest.mark.parametrize("query", ["", "organisatie=UWV", "organisatie=DUO&loket=ENS", "soort=citizen"])
def test_each_figure_opens_to_as_many_calls_as_the_dashboard_shows(noisy: Staff, query: str) -> None:
    log_in_as(noisy, "sup", Grant(Role.SUPERVISOR))
    client = noisy.client
    totals = client.get(f"/staff/dashboard?format=json&{query}").json()["totals"]
    if not query:  # the hand-computed values
        assert (totals["offered"], totals["answered"], totals["abandoned"], totals["short_abandoned"]) == (9, 5, 3, 1)
        assert (totals["answered_within_20s"], totals["callbacks_requested"]) == (3, 1)
    for cijfer, key in FIGURES.items():
        drilled = client.get(f"{DRILL}?format=json&cijfer={cijfer}&{query}")
        assert drilled.status_code == 200, drilled.text
        data = drilled.json()
        assert data["count"] == totals[key] == len(data["rows"]), (cijfer, query)
    judged = client.get(f"{DRILL}?format=json&cijfer=beoordeeld&{query}").json()["count"]
    assert judged == totals["answered"] + totals["abandoned"] - totals["short_abandoned"]


def test_hours_and_heat_cells_and_days_narrow_the_list(noisy: Staff) -> None:
    log_in_as(noisy, "sup", Grant(Role.SUPERVISOR))
    client = noisy.client
    count = lambda q: client.get(f"{DRILL}?format=json&{q}").json()["count"]  # noqa: E731
    assert count("cijfer=aangeboden&uur=9") == 9 and count("cijfer=aangeboden&uur=10") == 0
    assert count("cijfer=opgenomen&uur=9&organisatie=UWV") == 4
    assert count("cijfer=aangeboden&organisatie=UWV&onderwerp=ww") == 6
    assert count("cijfer=aangeboden&periode=eigen&van=2026-11-24&tot=2026-11-24") == 0
    assert count("cijfer=terugbellen&uur=9") == 1 and count("cijfer=terugbellen&organisatie=UWV") == 0


def test_the_dashboard_links_every_figure_to_its_calls(noisy: Staff) -> None:
    log_in_as(noisy, "sup", Grant(Role.SUPERVISOR))
    html = noisy.client.get("/staff/dashboard?organisatie=UWV").text
    base = f"{DRILL}?periode=vandaag&amp;organisatie=UWV"
    for cijfer in ("aangeboden", "opgenomen", "beoordeeld", "binnen-norm", "opgehangen", "kort-opgehangen",
                   "terugbellen", "uitkomst-answered", "uitkomst-abandoned_in_queue", "nog-bezig"):
        assert f'href="{base}&amp;cijfer={cijfer}"' in html, cijfer
    assert f'href="{base}&amp;cijfer=aangeboden&amp;uur=9"' in html  # the hourly table
    assert f'href="{DRILL}?periode=vandaag&amp;organisatie=UWV&amp;cijfer=aangeboden&amp;onderwerp=ww"' in html  # heat
    assert "periode=eigen&amp;organisatie=UWV&amp;cijfer=binnen-norm&amp;van=2026-11-25&amp;tot=2026-11-25" in html  # the trend table


def test_the_list_shows_masked_numbers_and_no_liaisons_by_default(noisy: Staff) -> None:
    log_in_as(noisy, "sup", Grant(Role.SUPERVISOR))
    client = noisy.client
    page = client.get(f"{DRILL}?cijfer=opgenomen&organisatie=UWV")
    assert page.status_code == 200
    html = page.text
    assert 'data-count="4"' in html and html.count("+316****01") == 4
    assert "Jan Vermeulen" not in html and "uwv-jan" not in html and "Per medewerker" not in html
    assert "<th scope=\"row\">25-11-2026 09:00:10</th>" not in html  # rows show arrival, not the queue entry
    assert "<th scope=\"row\">25-11-2026 09:00:00</th>" in html  # u1 arrived at 09:00:00 Amsterdam
    assert "style=" not in html and "<script>" not in html
    callbacks = client.get(f"{DRILL}?cijfer=terugbellen").text
    assert "+316******78" in callbacks and "+31612345678" not in callbacks and "Wacht in de rij" in callbacks
    exported = client.get(f"{DRILL}?cijfer=terugbellen&format=json").text
    assert "+31612345678" not in exported and "+316******78" in exported


@pytest.mark.parametrize("fmt", ["html", "json", "csv"])
def test_medewerker_is_refused_while_per_liaison_figures_are_off(noisy: Staff, fmt: str) -> None:
    log_in_as(noisy, "sup", Grant(Role.SUPERVISOR))
    response = noisy.client.get(f"{DRILL}?cijfer=opgenomen&medewerker={noisy.liaison_id('uwv-jan')}&format={fmt}")
    assert response.status_code == 403
    if fmt == "html":
        assert "(parameter: medewerker)" in response.text and "staan uit" in response.text
    else:
        assert response.json()["field"] == "medewerker" and "staan uit" in response.json()["message"]
    data = noisy.client.get(f"{DRILL}?cijfer=opgenomen&format=json").json()
    assert "liaisons" not in data and all("liaison" not in row and "liaison_id" not in row for row in data["rows"])
    detail = noisy.client.get(f"{DRILL}/n1").text
    assert "Jan Vermeulen" not in detail and "Medewerker" not in detail and "liaison" not in detail


@pytest.fixture()
def per_liaison(app_factory, issuers) -> Staff:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from tests.integration.conftest import PUBLIC_URL
    from tests.staff_login import provider_entry

    app = app_factory(oidc_providers=json.dumps([provider_entry(issuers[0], key="rijk", label="Rijks-inlog")]),
                      stats_per_liaison=True)
    staff = Staff(app, TestClient(app.client.app, base_url=PUBLIC_URL), issuers)
    store = SqlCallStore(app.container.sessions)
    jan, ingrid = staff.liaison_id("uwv-jan"), staff.liaison_id("uwv-ingrid")
    call(store, "j1", 0, "UWV", "ww", "AMS", "professional", answered_by(jan, wait=10, talk=100))
    call(store, "j2", 1, "UWV", "ww", "AMS", "professional", answered_by(jan, wait=30, talk=200))
    call(store, "i1", 2, "UWV", "wia", "AMS", "professional", answered_by(ingrid, wait=50, talk=60))
    call(store, "x1", 3, "UWV", "ww", "AMS", "professional", [(K.QUEUED, 10, {}), (K.ABANDONED, 40, {})])
    statistics.rollup_since(StatsDeps(store=SqlStatsStore(app.container.sessions),
                                      clock=FixedClock(START + timedelta(hours=1))),
                            since=START, until=START + timedelta(minutes=15))
    return staff


def answered_by(liaison: int, *, wait: int, talk: int) -> list:  # type: ignore[type-arg]
    return [(K.QUEUED, 10, {}), (K.ANSWERED, 10 + wait, {"liaison": liaison}),
            (K.COMPLETED, 10 + wait + talk, {"status": "completed"})]


def test_per_liaison_figures_when_switched_on_queue_liaison_call(per_liaison: Staff) -> None:
    log_in_as(per_liaison, "sup", Grant(Role.SUPERVISOR))
    client = per_liaison.client
    jan = per_liaison.liaison_id("uwv-jan")
    html = client.get(f"{DRILL}?cijfer=aangeboden&organisatie=UWV").text
    assert "Per medewerker" in html and 'data-count="4"' in html
    row = f'<a class="utrecht-link" href="{DRILL}?periode=vandaag&amp;organisatie=UWV&amp;cijfer=aangeboden&amp;medewerker={jan}">Jan Vermeulen</a>'
    assert row in html
    assert "<td>2</td><td>150,0 s</td><td>20,0 s</td>" in html  # Jan: 2 answered, talk (100+200)/2, ASA (10+30)/2
    assert "<td>1</td><td>60,0 s</td><td>50,0 s</td>" in html  # Ingrid
    mine = client.get(f"{DRILL}?cijfer=aangeboden&organisatie=UWV&medewerker={jan}")
    assert mine.status_code == 200 and 'data-count="2"' in mine.text and "Ingrid Bos" not in mine.text
    assert "Jan Vermeulen" in mine.text and 'aria-current="page"' in mine.text
    data = client.get(f"{DRILL}?cijfer=opgenomen&format=json").json()
    assert [(r["liaison"], r["answered"]) for r in data["liaisons"]] == [("Jan Vermeulen", 2), ("Ingrid Bos", 1)]
    assert {r["liaison"] for r in data["rows"]} == {"Jan Vermeulen", "Ingrid Bos"}
    rows = list(csv.DictReader(io.StringIO(client.get(f"{DRILL}?cijfer=opgenomen&format=csv").text)))
    assert [r["liaison"] for r in rows] == ["Jan Vermeulen", "Jan Vermeulen", "Ingrid Bos"]
    assert "Medewerker" in client.get(f"{DRILL}/j1").text and "Jan Vermeulen" in client.get(f"{DRILL}/j1").text
    bad = client.get(f"{DRILL}?cijfer=opgenomen&medewerker=jan")
    assert bad.status_code == 422 and "(parameter: medewerker)" in bad.text


def test_a_call_detail_shows_events_in_order_the_masked_number_and_the_recorded_outcome(noisy: Staff) -> None:
    jan = noisy.liaison_id("uwv-jan")
    SqlOutcomes(noisy.app.container.sessions).save(
        call_sid="n1", liaison_id=jan, result=ConversationResult.REFERRED, referred_organisation="SVB",
        note="bel terug op 0612345678", at=datetime.now(UTC), by=noisy.web.accounts.record_login(
            issuer=noisy.issuers[0], subject="writer", display_name=None, at=datetime.now(UTC)).id)
    log_in_as(noisy, "sup", Grant(Role.SUPERVISOR))
    page = noisy.client.get(f"{DRILL}/n1?periode=vandaag&cijfer=opgenomen")
    assert page.status_code == 200, page.text[:300]
    html = page.text
    assert "+316****01" in html and "Doorverwezen naar een andere organisatie (SVB)" in html
    assert "0612345678" not in html and "bel terug" not in html  # the liaison's note is not shown
    times = [html.index(f"<th scope=\"row\">{t}</th>") for t in ("09:10:00", "09:10:10", "09:10:30", "09:11:30")]
    assert times == sorted(times)  # received, queued, answered, ended in time order
    assert f'href="{DRILL}?periode=vandaag&amp;cijfer=opgenomen"' in html  # back to the list
    assert noisy.client.get(f"{DRILL}/nope").status_code == 404


def test_a_team_lead_drills_only_into_their_organisation(noisy: Staff) -> None:
    log_in_as(noisy, "lead", Grant(Role.TEAM_LEAD, "UWV"))
    client = noisy.client
    data = client.get(f"{DRILL}?format=json&cijfer=aangeboden").json()
    assert data["filters"]["organisation"] == "UWV" and data["count"] == 7  # u1-u5, n1, n2
    assert client.get(f"{DRILL}?cijfer=aangeboden&organisatie=DUO").status_code == 403
    refused = client.get(f"{DRILL}?cijfer=aangeboden&organisatie=DUO&format=csv")
    assert refused.status_code == 403 and refused.json()["field"] == "organisatie"
    assert client.get(f"{DRILL}/u1").status_code == 200
    assert client.get(f"{DRILL}/d1").status_code == 404  # another organisation's call: as if absent


def test_exports_without_the_role_are_refused_with_json(noisy: Staff) -> None:
    noisy.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    noisy.login("uwv-jan")
    for fmt in ("csv", "json"):
        response = noisy.client.get(f"{DRILL}?cijfer=aangeboden&format={fmt}")
        assert response.status_code == 403 and response.json()["field"] == "rol"
    assert noisy.client.get(f"{DRILL}/u1").status_code == 403


def test_the_csv_export_has_the_documented_columns(noisy: Staff) -> None:
    log_in_as(noisy, "sup", Grant(Role.SUPERVISOR))
    response = noisy.client.get(f"{DRILL}?cijfer=opgehangen&format=csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "callrouter-gesprekken-opgehangen-2026-11-25-2026-11-25.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["received_at", "location", "organisation", "topic", "line_kind", "caller_masked",
                             "wait_seconds", "talk_seconds", "outcome", "callback_conversation", "result",
                             "verdict_asked", "verdict", "call_id"]
    assert [(r["received_at"], r["wait_seconds"], r["outcome"]) for r in rows] == [
        ("2026-11-25T09:04:00+01:00", "90.0", "abandoned_in_queue"),
        ("2026-11-25T09:06:00+01:00", "3.0", "abandoned_in_queue"),
        ("2026-11-25T09:12:00+01:00", "8.0", "abandoned_in_queue")]


def test_pages_of_fifty(staff: Staff) -> None:
    store = SqlCallStore(staff.app.container.sessions)
    for index in range(53):
        call(store, f"p{index}", index % 60, "UWV", "ww", "AMS", "professional", answered(5))
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    first = staff.client.get(f"{DRILL}?cijfer=opgenomen").text
    assert 'data-count="53"' in first and first.count('">Details<span') == 50 and "Volgende pagina" in first
    second = staff.client.get(f"{DRILL}?cijfer=opgenomen&pagina=2").text
    assert second.count('">Details<span') == 3 and "Vorige pagina" in second and "Pagina 2 van 2" in second
    assert len(staff.client.get(f"{DRILL}?cijfer=opgenomen&format=json").json()["rows"]) == 53  # exports all


@pytest.mark.parametrize(("query", "status", "named"), [
    ("cijfer=gemiddelde", 422, "cijfer"),
    ("uur=24", 422, "uur"),
    ("uur=negen", 422, "uur"),
    ("pagina=0", 422, "pagina"),
    ("pagina=2", 422, "pagina"),  # one page only
    ("kleur=rood", 400, "kleur"),
    ("van=2026-11-30&tot=2026-11-01", 422, "tot"),
    ("organisatie=XYZ", 422, "organisatie"),
])
def test_bad_drilldown_queries_are_refused_naming_the_parameter(noisy: Staff, query: str, status: int,
                                                                named: str) -> None:
    log_in_as(noisy, "sup", Grant(Role.SUPERVISOR))
    page = noisy.client.get(f"{DRILL}?{query}")
    assert page.status_code == status and f"(parameter: {named})" in page.text
    exported = noisy.client.get(f"{DRILL}?{query}&format=json")
    assert exported.status_code == status and exported.json()["field"] == named

