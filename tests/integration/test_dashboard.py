"""The supervisor dashboard in-process: numbers on the page and in the exports, roles, bad queries.

A fixed set of calls on Wednesday 25 November 2026, 09:00-09:30 in Amsterdam (the app's clock says
10:00 that day, so "vandaag" is the 25th), written through the real call store and rolled up:

  UWV ww AMS pro:  u1 waits 15 s, answered; u2 waits 60 s, answered; u3 hangs up after 90 s;
                   u4 hangs up after 3 s (a short abandon)
  UWV wia UTR pro: u5 waits 10 s, answered
  DUO studiefinanciering ENS citizen: d1 waits 30 s, answered; d2 asks for a callback after 145 s

All:  offered 7, answered 4, abandoned 2 (1 short), judged 4 + 2 - 1 = 5, within 20 s: u1 u5 -> 40 %,
      average speed of answer (15 + 60 + 10 + 30) / 4 = 28.75 s.
UWV:  offered 5, answered 3, judged 3 + 2 - 1 = 4, within 20 s 2 -> 50 %, ASA 85 / 3 s.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.stats_repository import SqlStatsStore
from callrouter.domain.calls import CallRecord, CallState, EventKind
from callrouter.domain.staff import Grant, Role
from callrouter.services.statistics import statistics
from callrouter.services.statistics.statistics import StatsDeps
from tests.integration.conftest import FixedClock
from tests.integration.staff_fixtures import Staff

K = EventKind
START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam


def call(store: SqlCallStore, sid: str, minute: int, org: str, topic: str, location: str, kind: str,
         events: list[tuple[EventKind, int, dict]], *, day_start: datetime = START) -> None:
    start = day_start + timedelta(minutes=minute)
    store.open_call(CallRecord(sid=sid, line_number="+31850001000", line_kind=kind, caller_pseudonym="p",
                               caller_masked="+316****01", state=CallState.MENU, received_at=start,
                               organisation=org, topic=topic, location=location), detail={})
    for event, seconds, detail in events:
        dedupe = {K.ANSWERED: "answered", K.COMPLETED: "ended", K.ABANDONED: "ended"}.get(event)
        store.apply(sid, event=event, at=start + timedelta(seconds=seconds), detail=detail, dedupe=dedupe)


def answered(wait: int, talk: int = 60) -> list[tuple[EventKind, int, dict]]:
    return [(K.QUEUED, 10, {}), (K.ANSWERED, 10 + wait, {}), (K.COMPLETED, 10 + wait + talk, {"status": "completed"})]


def abandoned(wait: int) -> list[tuple[EventKind, int, dict]]:
    return [(K.QUEUED, 10, {}), (K.ABANDONED, 10 + wait, {"status": "completed"})]


@pytest.fixture()
def staff_with_calls(staff: Staff) -> Staff:
    sessions = staff.app.container.sessions
    store = SqlCallStore(sessions)
    pro, cit = "professional", "citizen"
    call(store, "u1", 0, "UWV", "ww", "AMS", pro, answered(15))
    call(store, "u2", 2, "UWV", "ww", "AMS", pro, answered(60))
    call(store, "u3", 4, "UWV", "ww", "AMS", pro, abandoned(90))
    call(store, "u4", 6, "UWV", "ww", "AMS", pro, abandoned(3))
    call(store, "u5", 8, "UWV", "wia", "UTR", pro, answered(10))
    call(store, "d1", 20, "DUO", "studiefinanciering", "ENS", cit, answered(30))
    call(store, "d2", 22, "DUO", "studiefinanciering", "ENS", cit, [
        (K.QUEUED, 5, {}), (K.CALLBACK_REQUESTED, 150, {"callback": 1}), (K.COMPLETED, 160, {"callback": "arranged"})])
    deps = StatsDeps(store=SqlStatsStore(sessions), clock=FixedClock(START + timedelta(hours=1)))
    statistics.rollup_since(deps, since=START, until=START + timedelta(minutes=45))
    return staff


def log_in_as(staff: Staff, subject: str, grant: Grant) -> None:
    staff.web.accounts.grant(issuer=staff.issuers[0], subject=subject, grant=grant, by="test", at=datetime.now(UTC))
    staff.login(subject)


def test_a_supervisor_sees_todays_figures_with_targets_states_and_definitions(staff_with_calls: Staff) -> None:
    log_in_as(staff_with_calls, "sup", Grant(Role.SUPERVISOR))
    home = staff_with_calls.client.get("/staff/")
    assert 'href="/staff/dashboard"' in home.text
    page = staff_with_calls.client.get("/staff/dashboard")
    assert page.status_code == 200, page.text[:500]
    html = page.text
    assert "Vandaag: 25-11-2026" in html
    assert 'data-figure="offered">7<' in html
    assert 'data-figure="answered">4 (57,1 % van aangeboden)<' in html
    assert 'data-figure="service_level_20s">40,0 %<' in html
    assert 'data-figure="average_speed_of_answer_seconds">28,8 s<' in html
    assert 'data-figure="abandoned">2 (28,6 % van aangeboden)<' in html
    assert "Servicelevel binnen 20 seconden" in html and "minstens 80,0 %" in html
    assert html.count('class="state state--slecht">Slecht<') >= 2  # service level 40 %, abandoned 28.6 %
    assert "answered_within_20 / (answered + abandoned - short_abandoned)" in html  # the written definition
    assert "Korte ophangers tellen niet mee" in html
    # charts: SVG with title and description, and the same numbers in tables
    assert html.count("<svg") == 3 and html.count("<desc") == 3
    # table cells link to the calls behind them (the number after a hidden label for screen readers)
    cell = re.compile(r'<td><a class="utrecht-link" href="[^"]+"><span class="visually-hidden">[^<]*</span>(\d+)</a></td>')
    text = cell.sub(r"<td>\1</td>", html)
    assert '<tr><th scope="row">09:00</th><td>7</td><td>4</td></tr>' in text
    assert '<tr><th scope="row">25-11-2026</th><td>5</td><td>2</td><td>40,0 %</td><td>Slecht</td></tr>' in text
    assert '<tr><th scope="row">Terugbelverzoek</th><td>1</td>' in text
    assert '<th scope="row">UWV</th>' in html and '<th scope="row">DUO</th>' in html
    assert "style=" not in html and "<script>" not in html  # the strict CSP allows neither
    assert "script-src 'self'" in page.headers["content-security-policy"]
    css = staff_with_calls.client.get("/staff/dashboard/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_filters_and_periods(staff_with_calls: Staff) -> None:
    log_in_as(staff_with_calls, "sup", Grant(Role.SUPERVISOR))
    client = staff_with_calls.client
    duo = client.get("/staff/dashboard?organisatie=DUO").text
    assert 'data-figure="offered">2<' in duo and 'data-figure="service_level_20s">0,0 %<' in duo
    utr = client.get("/staff/dashboard?loket=UTR&soort=professional&onderwerp=wia").text
    assert 'data-figure="offered">1<' in utr and 'data-figure="service_level_20s">100,0 %<' in utr
    assert 'data-figure="offered">0<' in client.get("/staff/dashboard?periode=gisteren").text
    assert 'data-figure="offered">7<' in client.get("/staff/dashboard?periode=week").text
    own = client.get("/staff/dashboard?van=2026-11-01&tot=2026-11-30").text
    assert 'data-figure="offered">7<' in own and "Eigen periode: 01-11-2026 tot en met 30-11-2026" in own


def test_exports_carry_the_numbers_exactly(staff_with_calls: Staff) -> None:
    log_in_as(staff_with_calls, "sup", Grant(Role.SUPERVISOR))
    client = staff_with_calls.client
    response = client.get("/staff/dashboard?periode=week&format=csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["day"] for r in rows] == ["2026-11-23", "2026-11-24", "2026-11-25"]  # Monday to today
    wed = rows[2]
    assert (wed["offered"], wed["answered"], wed["abandoned"], wed["short_abandoned"]) == ("7", "4", "2", "1")
    assert float(wed["service_level_20s"]) == 2 / 5 and float(wed["average_speed_of_answer_seconds"]) == 28.75
    assert wed["outcome_callback_requested"] == "1" and rows[0]["service_level_20s"] == ""
    data = client.get("/staff/dashboard?format=json").json()
    assert data["period"] == {"name": "vandaag", "first_day": "2026-11-25", "last_day": "2026-11-25",
                              "zone": "Europe/Amsterdam"}
    assert data["totals"]["offered"] == 7 and data["totals"]["service_level_20s"] == 2 / 5
    assert data["totals"]["service_level_60s"] == 4 / 5  # u1 u2 u5 d1
    assert data["totals"]["average_speed_of_answer_seconds"] == 28.75
    assert data["hours"][9]["offered"] == 7 and data["hours"][10]["offered"] == 0
    assert {(r["organisation"], r["topic"], r["offered"]) for r in data["organisation_topic"]} == {
        ("DUO", "studiefinanciering", 2), ("UWV", "wia", 1), ("UWV", "ww", 4)}
    assert "formula" in data["definitions"]["service_level_20s"]


def test_a_team_lead_sees_only_their_organisation(staff_with_calls: Staff) -> None:
    log_in_as(staff_with_calls, "lead", Grant(Role.TEAM_LEAD, "UWV"))
    client = staff_with_calls.client
    page = client.get("/staff/dashboard").text
    assert 'data-figure="offered">5<' in page and 'data-figure="service_level_20s">50,0 %<' in page
    assert '<th scope="row">DUO</th>' not in page and "readonly" in page
    refused = client.get("/staff/dashboard?organisatie=DUO")
    assert refused.status_code == 403 and "eigen organisatie" in refused.text
    assert client.get("/staff/dashboard?organisatie=DUO&format=csv").status_code == 403
    assert client.get("/staff/dashboard?organisatie=DUO&format=json").status_code == 403
    data = client.get("/staff/dashboard?format=json").json()
    assert data["filters"]["organisation"] == "UWV" and data["totals"]["offered"] == 5
    assert {r["organisation"] for r in data["organisation_topic"]} == {"UWV"}
    rows = list(csv.DictReader(io.StringIO(client.get("/staff/dashboard?format=csv").text)))
    assert [(r["organisation"], r["offered"]) for r in rows] == [("UWV", "5")]


def test_a_liaison_without_a_lead_role_is_refused(staff_with_calls: Staff) -> None:
    staff_with_calls.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    staff_with_calls.login("uwv-jan")
    for path in ("/staff/dashboard", "/staff/dashboard?format=csv", "/staff/dashboard?format=json"):
        assert staff_with_calls.client.get(path).status_code == 403
    assert "teamleiders" in staff_with_calls.client.get("/staff/dashboard").text


def test_not_logged_in_goes_to_the_login_page(staff: Staff) -> None:
    response = staff.client.get("/staff/dashboard", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/staff/inloggen")


@pytest.mark.parametrize(("query", "status", "named"), [
    ("organisatie=XYZ", 422, "organisatie"),
    ("onderwerp=nope", 422, "onderwerp"),
    ("organisatie=DUO&onderwerp=ww", 422, "onderwerp"),  # a topic of another organisation
    ("loket=NOPE", 422, "loket"),
    ("soort=fax", 422, "soort"),
    ("periode=jaar", 422, "periode"),
    ("van=2026-11-30&tot=2026-11-01", 422, "tot"),  # inverted
    ("van=2025-01-01&tot=2026-11-25", 422, "tot"),  # over 400 days
    ("van=25-11-2026&tot=2026-11-25", 422, "van"),
    ("periode=eigen&van=2026-11-01", 422, "tot"),
    ("kleur=rood", 400, "kleur"),
    ("format=xml", 422, "format"),
])
def test_bad_queries_are_refused_naming_the_parameter(staff_with_calls: Staff, query: str, status: int,
                                                      named: str) -> None:
    log_in_as(staff_with_calls, "sup", Grant(Role.SUPERVISOR))
    page = staff_with_calls.client.get(f"/staff/dashboard?{query}")
    assert page.status_code == status and f"(parameter: {named})" in page.text
    exported = staff_with_calls.client.get(f"/staff/dashboard?{query}&format=json")
    if named != "format":
        assert exported.status_code == status and exported.json()["field"] == named


# -- targets from the setting CALLROUTER_DASHBOARD_TARGETS ---------------------------------------

def test_targets_from_the_setting_decide_the_states(app_factory, issuers) -> None:  # noqa: ANN001
    import json

    from fastapi.testclient import TestClient

    from tests.integration.conftest import PUBLIC_URL
    from tests.staff_login import provider_entry

    app = app_factory(oidc_providers=json.dumps([provider_entry(issuers[0], key="rijk", label="Rijks-inlog")]),
                      dashboard_targets='{"service_level": [0.4, 0.3], "average_speed_of_answer_seconds": [30, 40]}')
    staff = Staff(app, TestClient(app.client.app, base_url=PUBLIC_URL), issuers)
    store = SqlCallStore(app.container.sessions)
    call(store, "u1", 0, "UWV", "ww", "AMS", "professional", answered(15))
    call(store, "u2", 2, "UWV", "ww", "AMS", "professional", answered(60))
    call(store, "u3", 4, "UWV", "ww", "AMS", "professional", abandoned(90))
    deps = StatsDeps(store=SqlStatsStore(app.container.sessions), clock=FixedClock(START + timedelta(hours=1)))
    statistics.rollup_since(deps, since=START, until=START + timedelta(minutes=15))
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    html = staff.client.get("/staff/dashboard").text
    # service level 1 / 3 = 33.3 %: "aandacht" under the setting (at least 40 %, attention down to 30 %)
    assert 'data-figure="service_level_20s">33,3 %<' in html and "minstens 40,0 % (aandacht tot 30,0 %)" in html
    assert "hoogstens 30,0 s (aandacht tot 40,0 s)" in html  # ASA 37.5 s: attention too
    assert html.count('class="state state--aandacht">Aandacht<') == 2
    targets = staff.client.get("/staff/dashboard?format=json").json()["targets"]
    assert targets["service_level"] == {"good": 0.4, "attention": 0.3, "higher_is_better": True}
    assert targets["abandoned_share"] == {"good": 0.05, "attention": 0.1, "higher_is_better": False}  # a default


@pytest.mark.parametrize(("text", "named"), [
    ("{service_level: 1}", "not valid JSON"),
    ('{"servicelevel": [0.8, 0.7]}', "unknown figure 'servicelevel'"),
    ('{"service_level": [80, 70]}', "share between 0 and 1"),
    ('{"service_level": [0.7, 0.8]}', "'good' must be at least 'attention'"),
    ('{"average_speed_of_answer_seconds": [60, 20]}', "'good' must be at most 'attention'"),
    ('{"service_level": 0.8}', "two numbers"),
    ("[]", "JSON object"),
])
def test_bad_targets_stop_the_app_at_start_up_naming_the_setting(database_url: str, redis, redis_url: str,  # noqa: ANN001
                                                                 text: str, named: str) -> None:
    from callrouter.bootstrap import build
    from callrouter.config import Settings
    from callrouter.web.app import create_app
    from callrouter.web.dashboard.figures import TargetsInvalid

    settings = Settings(database_url=database_url, redis_url=redis_url, environment="test", dashboard_targets=text)
    container = build(settings)
    try:
        with pytest.raises(TargetsInvalid, match="CALLROUTER_DASHBOARD_TARGETS") as refused:
            create_app(settings, container)
        assert named in str(refused.value)
    finally:
        container.close()
