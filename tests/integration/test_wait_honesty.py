"""Announced waits on a real database (SQLite and PostgreSQL) and Redis: the waitUrl turns as Twilio posts them
record what was said, and /staff/dashboard/wachttijd judges it, with its exports, roles and refusals.

A scripted morning, Wednesday 25 November 2026 from 10:00 in Amsterdam (t in seconds). Nobody is available,
so with no history every estimate is 120 s per place in line (callrouter.domain.queueing: the default gap).
jan (UWV) and eva (DUO) are on duty but away at first.

  t=0, 1, 2  A (Sanne), B (Daan), C (Anouk) queue: UWV ww from Amsterdam, places 1, 2, 3.
  t=3, 5     D (Fatma), E (Pieter) queue: DUO studiefinanciering from Utrecht, places 1, 2.
  Each hears its wait after 31 s in the queue: A at t=31 120 s, B at t=32 240 s, C at t=33 360 s,
  D at t=34 120 s, E at t=36 240 s.
  t=60   C hangs up                       -> 27 s after a 360 s estimate: not judged
  t=100  jan (UWV ww) comes available and is offered A; t=110 he picks up
                                          -> A: 79 s after 120 s: honest
  t=126  B hears its wait again (queue time 125 s): place 1, 120 s
  t=200  D asks for a callback            -> 166 s after 120 s: too short by 46 s
  t=250  A ends; B is offered to jan; t=260 he picks up
                                          -> B at t=32: 228 s after 240 s: honest
                                          -> B at t=126: 134 s after 120 s: too short by 14 s
  t=400  E hangs up                       -> 364 s after 240 s: too short by 124 s

All: 5 calls, 6 announcements, judged 5, honest 2 (A, B first), too short 3, not judged 1 (C) -> 40 %,
     target 80 %: missed. Too short by [14, 46, 124]: median (rank 2) 46 s, p90 (rank 3) 124 s.
UWV: 4 announcements, judged 3, honest 2, too short 1 (14 s), not judged 1 -> 66.7 %: missed.
DUO: 2 announcements, judged 2, honest 0, too short 2 ([46, 124]: median rank 1 -> 46, p90 rank 2 -> 124) -> 0 %.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callrouter.adapters import redis_keys
from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.wait_honesty_repository import SqlWaitHonesty
from callrouter.domain.calls import CallRecord, CallState, EventKind
from callrouter.domain.staff import Grant, Role
from callrouter.domain.statistics_intervals import period_bounds
from tests.integration.conftest import App
from tests.integration.staff_fixtures import Staff
from tests.integration.test_voice_webhooks import call_params
from tests.integration.test_wallboard import (
    ANOUK,
    DAAN,
    SANNE,
    at,
    dial_ends,
    liaison_picks_up,
    lid,
    log_in_as,
    ok,
    presence,
    queue,
    status,
)

FATMA, PIETER = "+31612345611", "+31612345612"  # caseworkers in Utrecht
PAGE = "/staff/dashboard/wachttijd"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


TURNS = itertools.count(1)


def wait_turn(app: App, sid: str, *, from_: str, queue_time: int) -> str:
    # Each hold turn is its own request, as Twilio's are (its AvgQueueTime and the like differ); an identical
    # signed request would be a replay and get the first answer back.
    root = ok(app.post("/twilio/voice/wait", call_params(sid, from_=from_, QueueTime=str(queue_time),
                                                          AvgQueueTime=str(next(TURNS)))))
    return " ".join(el.text or "" for el in root.iter("Say"))


def announced(app: App, sid: str) -> list[tuple[datetime, dict[str, object]]]:
    return [(e.at, e.detail) for e in app.container.voice.calls.events(sid) if e.kind == EventKind.ANNOUNCED]


def the_morning(app: App) -> dict[str, str]:
    jan = lid(app, "uwv-jan")
    at(app, 0)
    presence(app, "uwv-jan", "away")
    presence(app, "duo-eva", "away")  # on duty, not free: DUO takes calls into its queue
    plan = [(0, SANNE, "1"), (1, DAAN, "1"), (2, ANOUK, "1"), (3, FATMA, "3"), (5, PIETER, "3")]
    sids: list[str] = []
    for second, caller, org_key in plan:  # one after the other: the same moment would tie in the queue order
        at(app, second)
        sids.append(queue(app, from_=caller, digits=[org_key, "1"]))
    a, b, c, d, e = sids
    assert {app.container.voice.calls.get(s).organisation for s in (a, b, c)} == {"UWV"}  # type: ignore[union-attr]
    assert {app.container.voice.calls.get(s).organisation for s in (d, e)} == {"DUO"}  # type: ignore[union-attr]
    for (second, caller, _), sid in zip(plan, sids, strict=True):
        at(app, second + 31)
        assert "U wacht nog ongeveer" in wait_turn(app, sid, from_=caller, queue_time=31)
    at(app, 60)
    ok(app.post("/twilio/voice/queue-exit", call_params(c, from_=ANOUK, QueueResult="hangup")))
    status(app, c, "completed", sequence=3, From=ANOUK)
    at(app, 100)
    presence(app, "uwv-jan", "available")
    assert app.container.voice.calls.get(a).state == CallState.OFFERED  # type: ignore[union-attr]
    at(app, 110)
    liaison_picks_up(app, a, jan)
    at(app, 126)
    assert "U bent nummer 1" in wait_turn(app, b, from_=DAAN, queue_time=125)
    at(app, 200)
    leave = ok(app.post("/twilio/voice/callback/offer", call_params(d, from_=FATMA, Digits="1")))
    assert [child.tag for child in leave] == ["Leave"]
    at(app, 250)
    dial_ends(app, a, jan, talk=140)
    assert app.container.voice.calls.get(b).state == CallState.OFFERED  # type: ignore[union-attr]
    at(app, 260)
    liaison_picks_up(app, b, jan)
    at(app, 400)
    ok(app.post("/twilio/voice/queue-exit", call_params(e, from_=PIETER, QueueResult="hangup")))
    at(app, 500)
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


@pytest.fixture()
def morning(staff: Staff) -> tuple[Staff, dict[str, str]]:
    return staff, the_morning(staff.app)


def test_each_announcement_is_recorded_once_with_what_was_said(morning: tuple[Staff, dict[str, str]]) -> None:
    staff, sids = morning
    app = staff.app
    start = app.clock.moment - timedelta(seconds=500)
    t = lambda seconds: (start + timedelta(seconds=seconds)).astimezone(UTC)  # noqa: E731
    assert announced(app, sids["a"]) == [(t(31), {"estimate_s": 120, "position": 1, "waited_s": 31})]
    assert announced(app, sids["b"]) == [(t(32), {"estimate_s": 240, "position": 2, "waited_s": 31}),
                                         (t(126), {"estimate_s": 120, "position": 1, "waited_s": 125})]
    assert announced(app, sids["c"]) == [(t(33), {"estimate_s": 360, "position": 3, "waited_s": 31})]
    assert announced(app, sids["d"]) == [(t(34), {"estimate_s": 120, "position": 1, "waited_s": 31})]
    assert announced(app, sids["e"]) == [(t(36), {"estimate_s": 240, "position": 2, "waited_s": 31})]
    # The announcement left the state alone: B went on to be answered, and its outcome is "answered".
    assert app.container.voice.calls.get(sids["b"]).state == CallState.CONNECTED  # type: ignore[union-attr]


def test_a_repeated_wait_turn_records_no_second_announcement(staff: Staff) -> None:
    app = staff.app
    at(app, 0)
    presence(app, "uwv-jan", "away")
    sid = queue(app, from_=SANNE, digits=["1", "1"])
    at(app, 31)
    assert "U wacht nog ongeveer" in wait_turn(app, sid, from_=SANNE, queue_time=31)
    at(app, 32)
    assert wait_turn(app, sid, from_=SANNE, queue_time=31) == ""  # the same turn again: nothing said
    # Redis lost the guard's note (or two processes raced): it is said again, but recorded once.
    app.container.redis.delete(redis_keys.announced(sid))
    assert "U wacht nog ongeveer" in wait_turn(app, sid, from_=SANNE, queue_time=31)
    assert len(announced(app, sid)) == 1
    at(app, 125)
    assert "U wacht nog ongeveer" in wait_turn(app, sid, from_=SANNE, queue_time=125)
    assert [detail["waited_s"] for _, detail in announced(app, sid)] == [31, 125]


def page_json(staff: Staff, query: str = "") -> dict[str, Any]:
    response = staff.client.get(f"{PAGE}?format=json" + (f"&{query}" if query else ""))
    assert response.status_code == 200, response.text
    return json.loads(response.text)  # type: ignore[no-any-return]


ALL = {"calls": 5, "announcements": 6, "unknown": 0, "judged": 5, "honest": 2, "too_short": 3, "not_judged": 1,
       "left_early": 1, "still_waiting": 0, "share_honest": 0.4, "off_median_s": 46.0, "off_p90_s": 124.0,
       "state": "missed"}
UWV = {"calls": 3, "announcements": 4, "unknown": 0, "judged": 3, "honest": 2, "too_short": 1, "not_judged": 1,
       "left_early": 1, "still_waiting": 0, "share_honest": pytest.approx(2 / 3), "off_median_s": 14.0,
       "off_p90_s": 14.0, "state": "missed"}
DUO = {"calls": 2, "announcements": 2, "unknown": 0, "judged": 2, "honest": 0, "too_short": 2, "not_judged": 0,
       "left_early": 0, "still_waiting": 0, "share_honest": 0.0, "off_median_s": 46.0, "off_p90_s": 124.0,
       "state": "missed"}


def test_the_figures_by_hand_in_json_and_csv(morning: tuple[Staff, dict[str, str]]) -> None:
    staff, _ = morning
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    body = page_json(staff)
    assert body["period"]["first_day"] == body["period"]["last_day"] == "2026-11-25"
    assert body["target"] == {"share_honest": 0.8}
    assert body["totals"] == ALL
    assert [row["organisation"] for row in body["by_organisation"]] == ["DUO", "UWV"]
    assert body["by_organisation"][0] == {"organisation": "DUO", **DUO}
    assert body["by_organisation"][1] == {"organisation": "UWV", **UWV}
    assert set(body["definitions"]) >= {"honest", "too_short", "not_judged", "share_honest", "off"}
    assert "80,0 %" in body["definitions"]["share_honest"]["nl"] and "0.8" in body["definitions"]["share_honest"]["en"]

    response = staff.client.get(f"{PAGE}?format=csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    assert reader.fieldnames == ["first_day", "last_day", "section", "organisation", "calls", "announcements",
                                 "unknown", "judged", "honest", "too_short", "not_judged", "left_early",
                                 "still_waiting", "share_honest", "off_median_s", "off_p90_s", "target", "state"]
    rows = list(reader)
    assert [(r["section"], r["organisation"]) for r in rows] == [("total", ""), ("organisation", "DUO"),
                                                                ("organisation", "UWV")]
    total = rows[0]
    assert (total["first_day"], total["announcements"], total["judged"], total["honest"], total["share_honest"],
            total["off_median_s"], total["off_p90_s"], total["target"], total["state"]) == (
        "2026-11-25", "6", "5", "2", "0.4", "46.0", "124.0", "0.8", "missed")


def test_the_page_shows_the_headline_with_its_target_and_state_in_words(morning: tuple[Staff, dict[str, str]]) -> None:
    staff, _ = morning
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    page = staff.client.get(PAGE)
    assert page.status_code == 200, page.text[:500]
    html = page.text
    assert 'data-figure="share_honest">40,0 %<' in html and "minstens 80,0 %" in html
    assert 'data-state="missed">Doel niet gehaald<' in html
    assert 'data-figure="announcements">6<' in html and 'data-figure="off_median_s">46,0 s<' in html
    assert ('<tr><th scope="row">UWV (UWV)</th><td>4</td><td>0</td><td>3</td><td>2</td><td>1</td><td>1</td>'
            '<td>66,7 %</td><td>Doel niet gehaald</td><td>14,0 s</td><td>14,0 s</td></tr>') in html
    assert "<caption>Gemelde wachttijden per organisatie (6 meldingen)</caption>" in html
    assert "precies op de gemelde tijd telt als eerlijk" in html  # the definitions are on the page
    assert "style=" not in html and "<script>" not in html
    home = staff.client.get("/staff/")
    assert f'href="{PAGE}"' in home.text and "Klopt de gemelde wachttijd?" in home.text


def test_filters_period_counter_and_line_kind(morning: tuple[Staff, dict[str, str]]) -> None:
    staff, _ = morning
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    assert page_json(staff, "organisatie=UWV")["totals"] == {**UWV}
    utrecht = page_json(staff, "loket=UTR")["totals"]
    assert (utrecht["announcements"], utrecht["judged"], utrecht["honest"]) == (2, 2, 0)
    assert page_json(staff, "soort=citizen")["totals"]["announcements"] == 0
    assert page_json(staff, "onderwerp=ww")["totals"]["announcements"] == 4
    assert page_json(staff, "periode=gisteren")["totals"]["announcements"] == 0
    assert page_json(staff, "van=2026-11-25&tot=2026-11-26")["totals"]["announcements"] == 6
    nothing = page_json(staff, "van=2026-11-26&tot=2026-11-26")["totals"]
    assert nothing["share_honest"] is None and nothing["state"] == "no_data"


def test_a_team_lead_sees_only_their_organisation(morning: tuple[Staff, dict[str, str]]) -> None:
    staff, _ = morning
    log_in_as(staff, "lead", Grant(Role.TEAM_LEAD, "DUO"))
    body = page_json(staff)
    assert body["totals"] == {**DUO} and [r["organisation"] for r in body["by_organisation"]] == ["DUO"]
    refused = staff.client.get(f"{PAGE}?organisatie=UWV&format=json")
    assert refused.status_code == 403 and refused.json()["field"] == "organisatie"
    page = staff.client.get(f"{PAGE}?organisatie=UWV")
    assert page.status_code == 403 and "(parameter: organisatie)" in page.text


def test_a_liaison_is_refused(staff: Staff) -> None:
    staff.grant_liaison("liaison", "UWV", "uwv-jan")
    staff.login("liaison")
    response = staff.client.get(f"{PAGE}?format=csv")
    assert response.status_code == 403 and response.json()["field"] == "rol"
    assert staff.client.get(PAGE).status_code == 403


@pytest.mark.parametrize("query, status_code, field", [
    ("schatting=1", 400, "schatting"), ("periode=eeuw", 422, "periode"), ("van=2026-11-30&tot=2026-11-01", 422, "tot"),
    ("organisatie=XYZ", 422, "organisatie"), ("format=xml", 422, "format"), ("loket=NOPE", 422, "loket"),
    ("soort=fax", 422, "soort")])
def test_a_bad_query_is_refused_naming_the_parameter(staff: Staff, query: str, status_code: int, field: str) -> None:
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    page = staff.client.get(f"{PAGE}?{query}")
    assert page.status_code == status_code and f"(parameter: {field})" in page.text
    if field != "format":
        exported = staff.client.get(f"{PAGE}?{query}&format=json")
        assert exported.status_code == status_code and exported.json()["field"] == field


# -- the SQL on its own: local days across daylight saving time ----------------------------------------


def _announce(store: SqlCallStore, sid: str, org: str, moment: datetime, estimate: int | None) -> None:
    store.open_call(CallRecord(sid=sid, line_number="+31850001000", line_kind="professional", caller_pseudonym="p",
                               caller_masked="+316****01", state=CallState.QUEUED, received_at=moment,
                               organisation=org, topic="ww", location="AMS"), detail={})
    store.apply(sid, event=EventKind.ANNOUNCED, at=moment, detail={"estimate_s": estimate, "position": 1,
                                                                   "waited_s": 31})


def test_days_are_amsterdam_days_also_when_the_clocks_change(app: App) -> None:
    assert period_bounds(first_day=date(2026, 3, 29), last_day=date(2026, 3, 29), zone=AMSTERDAM) == (
        datetime(2026, 3, 28, 23, 0, tzinfo=UTC), datetime(2026, 3, 29, 22, 0, tzinfo=UTC))  # 23 hours
    assert period_bounds(first_day=date(2026, 10, 25), last_day=date(2026, 10, 25), zone=AMSTERDAM) == (
        datetime(2026, 10, 24, 22, 0, tzinfo=UTC), datetime(2026, 10, 25, 23, 0, tzinfo=UTC))  # 25 hours
    store = SqlCallStore(app.container.sessions)
    _announce(store, "before", "UWV", datetime(2026, 3, 28, 22, 59, tzinfo=UTC), 120)  # 23:59 on the 28th
    _announce(store, "first", "UWV", datetime(2026, 3, 28, 23, 0, tzinfo=UTC), 120)  # 00:00 on the 29th
    _announce(store, "last", "SVB", datetime(2026, 3, 29, 21, 59, tzinfo=UTC), None)  # 23:59 summer time
    _announce(store, "after", "UWV", datetime(2026, 3, 29, 22, 0, tzinfo=UTC), 120)  # 00:00 on the 30th
    store.apply("first", event=EventKind.ANSWERED, at=datetime(2026, 3, 28, 23, 1, tzinfo=UTC), dedupe="answered")
    store.apply("first", event=EventKind.COMPLETED, at=datetime(2026, 3, 28, 23, 9, tzinfo=UTC), dedupe="ended")
    reader = SqlWaitHonesty(app.container.sessions)
    found = {c.organisation: c for c in reader.announced_calls(first_day=date(2026, 3, 29), last_day=date(2026, 3, 29))}
    assert set(found) == {"UWV", "SVB"}
    assert found["UWV"].answered_at == datetime(2026, 3, 28, 23, 1, tzinfo=UTC)
    assert found["UWV"].left_at == datetime(2026, 3, 28, 23, 9, tzinfo=UTC)
    assert [a.estimate_s for a in found["SVB"].announcements] == [None]
    only_svb = reader.announced_calls(first_day=date(2026, 3, 29), last_day=date(2026, 3, 29),
                                      filters={"organisation": "SVB", "location": "AMS", "line_kind": None})
    assert [c.organisation for c in only_svb] == ["SVB"]
    with pytest.raises(ValueError, match="unknown filters"):
        reader.announced_calls(first_day=date(2026, 3, 29), last_day=date(2026, 3, 29), filters={"caller": "x"})
