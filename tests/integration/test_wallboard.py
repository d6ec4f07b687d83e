"""The live wallboard in-process, driven the way Twilio drives the app, on SQLite and PostgreSQL.

A scripted morning, Wednesday 25 November 2026 from 10:00 in Amsterdam (t in seconds), UWV only:

  t=0    jan (ww) available; A (professional, AMS, ww) queues and is offered to jan
  t=15   jan picks up A (the liaison's "in-progress" callback comes twice)
  t=15   B (professional, AMS, ww) queues: nobody free
  t=20   C (citizen line, ww) queues
  t=23   C hangs up after 3 s (a short abandon; "completed" comes twice)
  t=50   B hangs up after 35 s; its status callbacks come out of order (a late "ringing")
  t=60   A ends (dial result, talk 45 s); a late "in-progress" of jan's leg follows; jan goes away
  t=110  D (professional, AMS, wia) queues; t=140 ingrid (wia) comes available and is offered D
  t=150  D ends by the dial result alone (talk 5 s: answered at t=145, 35 s after queueing)
  t=200  E (professional, AMS, ww) queues and still waits at t=230

By hand at t=230:
  UWV ww AMS professional: offered 3 (A B E), answered 1 (A, within 20 s), abandoned 1 (B, not short),
                           waiting 1 (E, 30 s)
  UWV ww - citizen:        offered 1, abandoned 1 (short)
  UWV wia AMS professional: offered 1, answered 1 (D, 35 s: not within 20 s)
  All: answered 2, within 1, abandoned 2, short 1 -> service level 1 / (2 + 2 - 1) = 33,3 %
  Liaisons UWV: available 1 (ingrid), away 1 (jan), offline 1 (hasan); DUO: 2 offline.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callrouter.domain.calls import CallState
from callrouter.domain.staff import Grant, Role
from callrouter.services.calls.reconcile import reconcile
from tests.integration.conftest import AMSTERDAM, App
from tests.integration.staff_fixtures import Staff
from tests.integration.test_voice_webhooks import call_params, new_sid

PRO_LINE, UWV_CITIZEN_LINE = "+31850001000", "+31850001101"
SANNE, DAAN, ANOUK = "+31612345601", "+31612345602", "+31612345603"  # caseworkers in Amsterdam
START = datetime(2026, 11, 25, 10, 0, tzinfo=AMSTERDAM)


def ok(response) -> ET.Element:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text) if response.text else ET.Element("Response")


def queue(app: App, *, from_: str, to: str = PRO_LINE, digits: list[str]) -> str:
    """Call in and answer the menus (whatever they ask, a case reference included) until the call waits."""
    sid = new_sid()
    root = ok(app.post("/twilio/voice/incoming", call_params(sid, from_=from_, to=to)))
    keys = list(digits)
    for _ in range(8):
        if root.find("Enqueue") is not None:
            break
        gather = root.find("Gather")
        assert gather is not None, ET.tostring(root)
        action = gather.get("action", "").split("callrouter.example.nl", 1)[-1]
        key = "" if action.startswith("/twilio/voice/case-reference") else keys.pop(0)
        root = ok(app.post(action, call_params(sid, from_=from_, to=to, Digits=key)))
    assert root.find("Enqueue") is not None and not keys
    ok(app.post("/twilio/voice/wait", call_params(sid, from_=from_, to=to, QueueTime="0")))
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.state in (CallState.QUEUED, CallState.OFFERED)
    return sid


def status(app: App, sid: str, value: str, *, sequence: int | None = None, **extra: str) -> None:
    params = call_params(sid, CallStatus=value, **extra)
    if sequence is not None:
        params["SequenceNumber"] = str(sequence)
    ok(app.post("/twilio/voice/status", params))


def liaison_picks_up(app: App, sid: str, liaison: int) -> None:
    ok(app.post(f"/twilio/voice/liaison-status?call={sid}&liaison={liaison}", call_params("CA" + "1" * 32,
                                                                                              CallStatus="in-progress")))


def dial_ends(app: App, sid: str, liaison: int, talk: int) -> None:
    ok(app.post(f"/twilio/voice/dial-result?liaison={liaison}",
                call_params(sid, DialCallStatus="completed", DialCallDuration=str(talk))))


def presence(app: App, code: str, value: str) -> None:
    liaison = app.container.directory.liaison_by_code(code)
    assert liaison is not None
    response = app.api("PUT", f"/api/liaisons/{liaison.id}/presence", json={"status": value})
    assert response.status_code == 200, response.text


def at(app: App, seconds: int) -> None:
    app.clock.moment = START + timedelta(seconds=seconds)


def lid(app: App, code: str) -> int:
    found = app.container.directory.liaison_by_code(code)
    assert found is not None
    return found.id


def the_morning(app: App) -> dict[str, str]:
    jan, ingrid = lid(app, "uwv-jan"), lid(app, "uwv-ingrid")
    at(app, 0)
    presence(app, "uwv-jan", "available")
    a = queue(app, from_=SANNE, digits=["1", "1"])
    assert app.container.voice.calls.get(a).state == CallState.OFFERED  # type: ignore[union-attr]
    at(app, 15)
    liaison_picks_up(app, a, jan)
    liaison_picks_up(app, a, jan)  # delivered twice
    b = queue(app, from_=DAAN, digits=["1", "1"])
    at(app, 20)
    c = queue(app, from_="+31611110000", to=UWV_CITIZEN_LINE, digits=["1"])
    at(app, 23)
    status(app, c, "completed", sequence=2)
    status(app, c, "completed", sequence=2)  # delivered twice
    at(app, 50)
    ok(app.post("/twilio/voice/queue-exit", call_params(b, QueueResult="hangup")))
    status(app, b, "completed", sequence=3)
    status(app, b, "ringing", sequence=0)  # out of order: older than what came before
    at(app, 60)
    dial_ends(app, a, jan, talk=45)
    status(app, a, "completed", sequence=3)
    liaison_picks_up(app, a, jan)  # late, after the call ended
    presence(app, "uwv-jan", "away")
    at(app, 110)
    d = queue(app, from_=ANOUK, digits=["1", "2"])
    at(app, 140)
    presence(app, "uwv-ingrid", "available")
    assert app.container.voice.calls.get(d).state == CallState.OFFERED  # type: ignore[union-attr]
    at(app, 150)
    dial_ends(app, d, ingrid, talk=5)  # no "in-progress" callback of ingrid's leg came
    status(app, d, "completed", sequence=3)
    liaison_picks_up(app, d, ingrid)  # it comes late
    at(app, 200)
    e = queue(app, from_=SANNE, digits=["1", "1"])
    at(app, 230)
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def log_in_as(staff: Staff, subject: str, grant: Grant) -> None:
    staff.web.accounts.grant(issuer=staff.issuers[0], subject=subject, grant=grant, by="test", at=datetime.now(UTC))
    staff.login(subject)


def live(staff: Staff, query: str = "") -> dict[str, Any]:
    response = staff.client.get("/staff/wallboard/live" + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def rows(data: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    return {tuple(r["dimensions"].values()): r["numbers"] for r in data["rows"]}


WW_AMS = ("UWV", "ww", "AMS", "professional")
WW_CIT = ("UWV", "ww", "", "citizen")
WIA_AMS = ("UWV", "wia", "AMS", "professional")


@pytest.fixture()
def morning(staff: Staff) -> Staff:
    the_morning(staff.app)
    return staff


def test_counters_after_a_scripted_morning_equal_the_figures_by_hand(morning: Staff) -> None:
    log_in_as(morning, "sup", Grant(Role.SUPERVISOR))
    data = live(morning)
    assert data["day"] == "2026-11-25"
    found = rows(data)
    assert set(found) == {WW_AMS, WW_CIT, WIA_AMS}
    assert found[WW_AMS] == {"waiting": 1, "oldest_wait_seconds": 30.0, "offered": 3, "answered": 1,
                             "answered_within": 1, "abandoned": 1, "short_abandoned": 0, "service_level": 0.5,
        "on_hold": 0, "longest_hold_seconds": None}
    assert found[WW_CIT] == {"waiting": 0, "oldest_wait_seconds": None, "offered": 1, "answered": 0,
                             "answered_within": 0, "abandoned": 1, "short_abandoned": 1, "service_level": None,
        "on_hold": 0, "longest_hold_seconds": None}
    assert found[WIA_AMS] == {"waiting": 0, "oldest_wait_seconds": None, "offered": 1, "answered": 1,
                              "answered_within": 0, "abandoned": 0, "short_abandoned": 0, "service_level": 0.0,
        "on_hold": 0, "longest_hold_seconds": None}
    assert data["totals"] == {"waiting": 1, "oldest_wait_seconds": 30.0, "offered": 5, "answered": 2,
                              "answered_within": 1, "abandoned": 2, "short_abandoned": 1, "service_level": 1 / 3,
        "on_hold": 0, "longest_hold_seconds": None}
    uwv = next(r for r in data["liaisons"] if r["organisation"] == "UWV")["numbers"]
    assert uwv == {"available": 1, "busy": 0, "wrap_up": 0, "away": 1, "offline": 1}
    figures = {f["key"]: f for f in data["figures"]}
    assert figures["service_level_20s"]["shown"] == "33,3 %" and figures["service_level_20s"]["state_text"] == "Slecht"
    assert figures["oldest_wait"]["shown"] == "30 s" and figures["oldest_wait"]["state_text"] == "Goed"
    assert figures["waiting"]["shown"] == "1" and figures["available"]["state"] == "goed"
    assert figures["on_hold"]["shown"] == "0" and figures["on_hold"]["state"] == "info"  # nobody in a consult
    assert figures["available"]["shown"] == "1 van 2 aangemeld"  # ingrid of ingrid and jan; the rest offline
    assert "minstens 80,0 %" in figures["service_level_20s"]["target"]

    # The page shows the same values at load, as text, next to targets and states in words.
    page = morning.client.get("/staff/wallboard")
    assert page.status_code == 200
    html = page.text
    assert 'data-figure="service_level_20s">33,3 %<' in html and 'data-state="service_level_20s">Slecht<' in html
    assert 'data-figure="waiting">1<' in html and 'role="status"' in html
    assert "<td>WW-uitkering</td><td>Amsterdam</td><td>Professionallijn</td><td>1</td><td>30 s (Goed)</td>" in html
    assert "<script>" not in html and "style=" not in html
    js = morning.client.get("/staff/wallboard/static/wallboard.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert morning.client.get("/staff/wallboard/static/secret.py").status_code == 404


def test_filters_narrow_the_rows_and_the_liaisons(morning: Staff) -> None:
    log_in_as(morning, "sup", Grant(Role.SUPERVISOR))
    citizen = live(morning, "soort=citizen")
    assert set(rows(citizen)) == {WW_CIT} and citizen["totals"]["abandoned"] == 1
    wia = live(morning, "organisatie=UWV&onderwerp=wia&loket=AMS")
    assert set(rows(wia)) == {WIA_AMS} and wia["totals"]["answered"] == 1
    assert wia["liaison_totals"]["available"] == 1 and wia["liaison_totals"]["away"] == 0  # jan knows no wia
    assert live(morning, "organisatie=DUO")["totals"]["offered"] == 0


def test_a_flushed_redis_rebuilt_from_sql_gives_the_same_numbers(morning: Staff, redis) -> None:  # noqa: ANN001
    log_in_as(morning, "sup", Grant(Role.SUPERVISOR))
    before = live(morning)
    sessions = list(morning.app.container.redis.scan_iter("callrouter:staff:session:*"))
    saved = {key: morning.app.container.redis.dump(key) for key in sessions}
    redis.flushdb()
    for key, value in saved.items():  # keep the login; everything else is gone
        morning.app.container.redis.restore(key, 0, value)
    assert live(morning)["totals"]["offered"] == 0
    report = reconcile(morning.app.container.voice, live_state_present=False)
    assert report.rebuilt
    after = live(morning)
    assert after["totals"] == before["totals"] and rows(after) == rows(before)
    assert after["liaisons"] == before["liaisons"]


def test_the_reconciler_repairs_a_waiting_index_that_lost_a_move(morning: Staff) -> None:
    log_in_as(morning, "sup", Grant(Role.SUPERVISOR))
    counters = morning.app.container.voice.live.counters  # type: ignore[union-attr]
    counters.sync_waiting(organisation="UWV", waiting=[], before_ms=10**15)  # lose every waiting entry
    assert live(morning)["totals"]["waiting"] == 0
    reconcile(morning.app.container.voice, live_state_present=True)
    assert live(morning)["totals"]["waiting"] == 1


def test_a_team_lead_sees_only_their_organisation(morning: Staff) -> None:
    log_in_as(morning, "lead", Grant(Role.TEAM_LEAD, "DUO"))
    data = live(morning)
    assert data["rows"] == [] and [r["organisation"] for r in data["liaisons"]] == ["DUO"]
    assert data["filters"]["organisation"] == "DUO"
    refused = morning.client.get("/staff/wallboard/live?organisatie=UWV")
    assert refused.status_code == 403 and refused.json()["field"] == "organisatie"
    page = morning.client.get("/staff/wallboard?organisatie=UWV")
    assert page.status_code == 403 and "eigen organisatie" in page.text
    assert "readonly" in morning.client.get("/staff/wallboard").text


def test_a_liaison_and_a_stranger_are_refused(staff: Staff) -> None:
    assert staff.client.get("/staff/wallboard/live").status_code == 401
    assert staff.client.get("/staff/wallboard", follow_redirects=False).status_code == 303
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    staff.login("uwv-jan")
    assert staff.client.get("/staff/wallboard").status_code == 403
    assert staff.client.get("/staff/wallboard/live").status_code == 403


@pytest.mark.parametrize(("query", "code", "named"), [
    ("kleur=rood", 400, "kleur"),
    ("periode=vandaag", 400, "periode"),
    ("organisatie=XYZ", 422, "organisatie"),
    ("onderwerp=nope", 422, "onderwerp"),
    ("organisatie=DUO&onderwerp=ww", 422, "onderwerp"),
    ("loket=NOPE", 422, "loket"),
    ("soort=fax", 422, "soort"),
])
def test_bad_filters_are_refused_naming_the_parameter(staff: Staff, query: str, code: int, named: str) -> None:
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    answer = staff.client.get(f"/staff/wallboard/live?{query}")
    assert answer.status_code == code and answer.json()["field"] == named
    page = staff.client.get(f"/staff/wallboard?{query}")
    assert page.status_code == code and f"(parameter: {named})" in page.text


def abandon_at(app: App, moment: datetime, *, wait: int) -> str:
    app.clock.moment = moment
    sid = queue(app, from_=SANNE, digits=["1", "1"])
    app.clock.moment = moment + timedelta(seconds=wait)
    status(app, sid, "completed")
    return sid


def test_today_starts_at_midnight_in_amsterdam_also_the_day_summer_time_starts(staff: Staff) -> None:
    """29 March 2026 has 23 hours: it starts at 23:00 UTC on the 28th and ends at 22:00 UTC on the 29th."""
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    app = staff.app
    app.clock.moment = datetime(2026, 3, 28, 20, 0, tzinfo=AMSTERDAM)
    presence(app, "uwv-jan", "away")  # on duty, not free: calls wait
    abandon_at(app, datetime(2026, 3, 28, 22, 59, 30, tzinfo=UTC), wait=10)  # 23:59:30 on the 28th
    abandon_at(app, datetime(2026, 3, 28, 23, 0, 30, tzinfo=UTC), wait=10)  # 00:00:30 on the 29th
    abandon_at(app, datetime(2026, 3, 29, 21, 59, 0, tzinfo=UTC), wait=20)  # 23:59:00 on the 29th (CEST)
    abandon_at(app, datetime(2026, 3, 29, 22, 0, 30, tzinfo=UTC), wait=3)  # 00:00:30 on the 30th

    app.clock.moment = datetime(2026, 3, 29, 21, 59, 50, tzinfo=UTC)  # 23:59:50 on the 29th
    day = live(staff)
    assert day["day"] == "2026-03-29"
    assert (day["totals"]["offered"], day["totals"]["abandoned"], day["totals"]["short_abandoned"]) == (2, 2, 0)
    app.clock.moment = datetime(2026, 3, 29, 22, 0, 40, tzinfo=UTC)  # 00:00:40 on the 30th
    day = live(staff)
    assert day["day"] == "2026-03-30"
    assert (day["totals"]["offered"], day["totals"]["abandoned"], day["totals"]["short_abandoned"]) == (1, 1, 1)
    app.clock.moment = datetime(2026, 3, 28, 22, 59, 59, tzinfo=UTC)  # 23:59:59 on the 28th
    assert live(staff)["totals"]["offered"] == 1
