"""Every conversation's result and the caseworker's verdict, on SQLite and PostgreSQL: recorded through the
console, rolled up, and read on the dashboard, the cases page, the drill-down and the exports, each figure
checked against values worked out by hand below.

Wednesday 25 November 2026, 09:00-09:30 in Amsterdam (the app's clock says 10:00):
  c1 UWV ww  AMS  Jan answers; Jan records "resolved";          the caseworker answers the question 1 (yes)
  c2 UWV ww  AMS  Jan answers; Jan records "referred" to DUO;   the caseworker is asked, stays silent
  c3 UWV wia UTR  Jan answers; no result recorded;              the caseworker answers 3 (no)
  c4 SVB aow AMS  Gerrit answers; Gerrit records "follow_up";   the caseworker answers 2 (partly)
  cb UWV ww  AMS  a callback's conversation (Jan, 240 s); Jan records "not_for_us"; asked in the call c5
  c5 UWV ww  AMS  hangs up in the queue (asked for nothing: no conversation)
UWV:     conversations 3 answered + 1 callback = 4; results 3 (c1, c2, cb) -> 75 %, "Aandacht" (target 90 %,
         attention from 70 %); asked 3, answered 2 -> 66.7 %; yes 1/2, no 1/2. Received 4 (c1 c2 c3 c5; the
         callback conversation is no arrival). Callback talk time 240 s.
SVB:     conversations 1, results 1 -> 100 % "Goed"; asked 1, partly 1.
AMS:     conversations 4 (c1 c2 c4 cb), results 4 -> 100 %; asked 3 (c1 c2 c4), answered 2 (yes, partly).
UTR:     conversations 1 (c3), results 0 -> 0 % "Slecht"; asked 1, no 1.
Cases:   c1 + c4 one case of Sanne (UWV + SVB: multi); c2 + cb + c5 another (UWV only: single); c3 a third (single).
         multi: asked 2 (c1, c4), yes 1, partly 1; single: asked 2 (c2, c3), no 1.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from callrouter.adapters.sql.call_tables import CallRow
from callrouter.adapters.sql.case_tables import CaseRow
from callrouter.domain.calls import CallMove, CallRecord, CallState, EventKind, Outcome
from callrouter.domain.staff import ConversationResult, Grant, OutcomeChanged, Role
from callrouter.ports.staff import Audio
from callrouter.services.statistics import statistics
from callrouter.services.statistics.statistics import StatsDeps
from tests.integration.conftest import FixedClock
from tests.integration.staff_fixtures import Staff

K = EventKind
START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam


def conversation(staff: Staff, sid: str, minute: int, org: str, topic: str, location: str, liaison: str, *,
                 verdict: str | None = None, asked: bool = True, abandoned: bool = False) -> None:
    calls = staff.app.container.voice.calls
    start = START + timedelta(minutes=minute)
    calls.open_call(CallRecord(sid=sid, line_number="+31850001000", line_kind="professional", caller_pseudonym="p",
                               caller_masked="+316****01", state=CallState.MENU, received_at=start, caseworker_id=1,
                               organisation=org, topic=topic, location=location), detail={})
    calls.apply(sid, event=K.QUEUED, at=start + timedelta(seconds=10))
    if abandoned:
        calls.apply(sid, event=K.ABANDONED, at=start + timedelta(seconds=40), move=CallMove.END,
                    detail={"status": "completed"}, dedupe="ended", ended_at=start + timedelta(seconds=40))
        return
    answered, ended = start + timedelta(seconds=30), start + timedelta(seconds=330)
    calls.apply(sid, event=K.ANSWERED, at=answered, dedupe="answered", detail={"liaison": staff.liaison_id(liaison)})
    calls.apply(sid, event=K.COMPLETED, at=ended, move=CallMove.END, detail={"status": "completed"}, dedupe="ended",
                outcome=Outcome.ANSWERED, liaison_id=staff.liaison_id(liaison), queued_at=start + timedelta(seconds=10),
                offered_at=answered, answered_at=answered, ended_at=ended)
    if asked:
        calls.apply(sid, event=K.VERDICT_ASKED, at=ended, dedupe="verdict_asked")
    if verdict:
        calls.apply(sid, event=K.VERDICT, at=ended + timedelta(seconds=4), detail={"answer": verdict}, dedupe="verdict")


def callback_conversation(staff: Staff, sid: str, minute: int, *, asked_in: str) -> None:
    start = START + timedelta(minutes=minute)
    jan = staff.liaison_id("uwv-jan")
    record = CallRecord(sid=sid, line_number="+31850001000", line_kind="professional", caller_pseudonym="p",
                        caller_masked="+316****01", state=CallState.ENDED, received_at=start, caseworker_id=1,
                        location="AMS", organisation="UWV", topic="ww", answered_at=start,
                        ended_at=start + timedelta(seconds=240), liaison_id=jan, outcome=Outcome.ANSWERED, callback_id=7)
    staff.app.container.voice.calls.open_conversation(record, events=[
        (K.CALLBACK_CONVERSATION, start, {"callback": 7}), (K.ANSWERED, start, {"liaison": jan}),
        (K.COMPLETED, start + timedelta(seconds=240), {"status": "completed", "talk_seconds": 240})],
        same_case_as=asked_in)


def in_cases(staff: Staff, cases: dict[int, list[str]]) -> None:
    """Cases as the voice flow forms them (the case of a callback conversation follows its request)."""
    with staff.app.container.sessions.begin() as session:
        for case_id, sids in cases.items():
            session.add(CaseRow(id=case_id, caseworker_id=1, location="AMS", reference=None, open_key=None,
                                opened_at=START, local_day=START.date(), last_call_at=START, calls=len(sids)))
            session.flush()
            session.execute(update(CallRow).where(CallRow.sid.in_(sids)).values(case_id=case_id))


def record(staff: Staff, sid: str, result: str, **extra: str) -> int:
    token = staff.csrf()
    return staff.client.post(f"/staff/gesprekken/{sid}/uitkomst", follow_redirects=False,
                             data={"csrf_token": token, "result": result, **extra}).status_code


def roll_up(staff: Staff) -> None:
    deps = StatsDeps(store=staff.app.container.parts.stats_store, clock=FixedClock(START + timedelta(hours=1)))
    statistics.rollup_since(deps, since=START, until=START + timedelta(minutes=45))


@pytest.fixture()
def evaluated(staff: Staff) -> Staff:
    staff.app.clock.moment = START + timedelta(minutes=40)
    conversation(staff, "c1", 0, "UWV", "ww", "AMS", "uwv-jan", verdict="yes")
    conversation(staff, "c2", 2, "UWV", "ww", "AMS", "uwv-jan")
    conversation(staff, "c3", 4, "UWV", "wia", "UTR", "uwv-jan", verdict="no")
    conversation(staff, "c4", 6, "SVB", "aow", "AMS", "svb-gerrit", verdict="partly")
    conversation(staff, "c5", 8, "UWV", "ww", "AMS", "uwv-jan", abandoned=True)
    in_cases(staff, {901: ["c1", "c4"], 902: ["c2", "c5"], 903: ["c3"]})
    callback_conversation(staff, "cb", 20, asked_in="c5")
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    staff.login("uwv-jan")
    assert record(staff, "c1", "resolved") == 303
    assert record(staff, "c2", "referred", referred_organisation="DUO") == 303
    assert record(staff, "cb", "not_for_us") == 303
    outcomes = staff.web.console.outcomes
    outcomes.save(call_sid="c4", liaison_id=staff.liaison_id("svb-gerrit"), result=ConversationResult.FOLLOW_UP,
                  referred_organisation=None, note="", at=START + timedelta(minutes=30),
                  by=staff.web.accounts.find(issuer=staff.issuers[0], subject="uwv-jan").id)
    roll_up(staff)
    staff.web.accounts.grant(issuer=staff.issuers[0], subject="sup", grant=Grant(Role.SUPERVISOR), by="test",
                             at=datetime.now(UTC))
    staff.login("sup")
    return staff


def test_the_dashboard_json_has_results_and_verdicts_per_organisation_and_counter(evaluated: Staff) -> None:
    body = json.loads(evaluated.client.get("/staff/dashboard?periode=vandaag&format=json").text)
    orgs = {row["organisation"]: row for row in body["organisations"]}
    uwv, svb = orgs["UWV"], orgs["SVB"]
    assert (uwv["received"], uwv["answered"], uwv["callback_conversations"], uwv["conversations"]) == (4, 3, 1, 4)
    assert (uwv["results_recorded"], uwv["results_recorded_share"], uwv["results_recorded_state"]) == (3, 0.75, "aandacht")
    assert (uwv["result_resolved"], uwv["result_referred"], uwv["result_not_for_us"], uwv["result_follow_up"]) == (1, 1, 1, 0)
    assert (uwv["verdicts_asked"], uwv["verdicts"], uwv["verdict_yes"], uwv["verdict_no"]) == (3, 2, 1, 1)
    assert uwv["verdict_response_share"] == pytest.approx(2 / 3) and uwv["verdict_yes_share"] == 0.5
    assert uwv["average_callback_talk_time_seconds"] == 240
    assert (svb["conversations"], svb["results_recorded_share"], svb["results_recorded_state"]) == (1, 1.0, "goed")
    assert (svb["verdicts_asked"], svb["verdict_partly"], svb["verdict_partly_share"]) == (1, 1, 1.0)
    places = {row["location"]: row for row in body["locations"]}
    assert (places["AMS"]["conversations"], places["AMS"]["results_recorded"], places["AMS"]["verdicts_asked"],
            places["AMS"]["verdicts"]) == (4, 4, 3, 2)
    assert (places["UTR"]["conversations"], places["UTR"]["results_recorded_share"], places["UTR"]["verdict_no"]) == (
        1, 0.0, 1)
    topics = {(row["organisation"], row["topic"]): row for row in body["organisation_topic"]}
    assert (topics[("UWV", "ww")]["conversations"], topics[("UWV", "wia")]["results_recorded"]) == (3, 0)
    assert body["totals"]["received"] == 5 and body["totals"]["conversations"] == 5
    assert "results_recorded_share" in body["definitions"] and "verdict_yes_share" in body["definitions"]
    assert body["targets"]["results_recorded_share"] == {"good": 0.9, "attention": 0.7, "higher_is_better": True}


def test_the_dashboard_page_and_csv_show_the_same_figures(evaluated: Staff) -> None:
    page = evaluated.client.get("/staff/dashboard?periode=vandaag").text
    table = page[page.index('id="resultaat-organisatie"'):page.index('id="resultaat-onderwerp"')]
    uwv = re.sub(r"\s+", " ", table[table.index("UWV"):table.index("</tr>", table.index("UWV"))])
    assert "<td>4</td> <td>3 (75,0 %)</td>" in uwv and "Aandacht" in uwv
    assert "<td>3</td> <td>2 (66,7 %)</td> <td>50,0 %</td><td>0,0 %</td><td>50,0 %</td>" in uwv
    rows = list(csv.DictReader(io.StringIO(evaluated.client.get("/staff/dashboard?periode=vandaag&format=csv").text)))
    day = next(r for r in rows if r["received"] == "5")
    assert (day["conversations"], day["results_recorded"], day["verdicts_asked"], day["verdicts"]) == ("5", "4", "4", "3")


def test_the_cases_page_and_exports_give_verdicts_per_kind_of_case(evaluated: Staff) -> None:
    body = json.loads(evaluated.client.get("/staff/dashboard/zaken?periode=vandaag&format=json").text)
    verdicts = {row["cases"]: row for row in body["verdicts"]}
    assert (verdicts["multi"]["asked"], verdicts["multi"]["yes"], verdicts["multi"]["partly"]) == (2, 1, 1)
    assert (verdicts["single"]["asked"], verdicts["single"]["answered"], verdicts["single"]["no"]) == (2, 1, 1)
    assert verdicts["single"]["no_share"] == 1.0 and "verdicts" in body["definitions"]
    outcomes = dict((row["outcome"], row["calls"]) for row in body["outcomes"])
    assert outcomes == {"resolved": 1, "follow_up": 1}  # the calls of the multi-organisation case c1 + c4
    rows = list(csv.reader(io.StringIO(evaluated.client.get("/staff/dashboard/zaken?periode=vandaag&format=csv").text)))
    assert [r[3:5] for r in rows if r[2] == "verdict" and r[3].startswith("multi")] == [
        ["multi|asked", "2"], ["multi|yes", "1"], ["multi|partly", "1"], ["multi|no", "0"]]
    page = evaluated.client.get("/staff/dashboard/zaken?periode=vandaag").text
    assert "Oordeel van het loket na het gesprek" in page and "Met meerdere organisaties" in page


def test_the_drill_down_lists_the_calls_behind_the_evaluation_figures(evaluated: Staff) -> None:
    listed = evaluated.client.get("/staff/dashboard/oproepen?periode=vandaag&cijfer=oordeel-gevraagd&format=json")
    assert listed.status_code == 200, listed.text[:300]
    body = json.loads(listed.text)
    calls = body["rows"]
    assert sorted(c["verdict"] or "-" for c in calls) == ["-", "no", "partly", "yes"]
    conversations = json.loads(evaluated.client.get(
        "/staff/dashboard/oproepen?periode=vandaag&cijfer=gesprekken&format=json").text)["rows"]
    assert len(conversations) == 5 and sum(c["callback_conversation"] for c in conversations) == 1
    assert sorted(c["result"] or "-" for c in conversations) == ["-", "follow_up", "not_for_us", "referred", "resolved"]


def test_the_console_lists_conversations_without_an_outcome_and_refuses_bad_recordings(staff: Staff) -> None:
    staff.app.clock.moment = START + timedelta(minutes=40)
    conversation(staff, "c1", 0, "UWV", "ww", "AMS", "uwv-jan")
    conversation(staff, "c3", 4, "UWV", "wia", "UTR", "uwv-jan")
    conversation(staff, "i1", 6, "UWV", "wia", "UTR", "uwv-ingrid")
    callback_conversation(staff, "cb", 20, asked_in="c1")
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    staff.login("uwv-jan")
    live = staff.client.get("/staff/console/live").text
    pending = live[live.index('id="kop-zonder-uitkomst"'):live.index("Recente gesprekken")]
    assert "3 gesprekken van u zonder vastgelegde uitkomst" in pending and "(terugbelgesprek)" in pending
    assert pending.count("/staff/gesprekken/") == 3 and "/staff/gesprekken/i1" not in pending
    assert 'action="/staff/gesprekken/cb/uitkomst"' in live  # the newest is asked for at once
    # a colleague's conversation: refused, naming the field; nothing recorded
    refused = staff.client.post("/staff/gesprekken/i1/uitkomst", data={"csrf_token": staff.csrf(), "result": "resolved"})
    assert refused.status_code == 409 and 'href="#veld-call"' in refused.text and "U voerde dit gesprek niet" in refused.text
    assert staff.web.console.outcomes.get("i1") is None
    # twice at once: both forms showed "no outcome yet" (revision 0); the second is refused naming the field
    assert record(staff, "c1", "resolved", revision="0") == 303
    second = staff.client.post("/staff/gesprekken/c1/uitkomst", data={"csrf_token": staff.csrf(), "result": "not_for_us",
                                                                       "revision": "0"})
    assert second.status_code == 409 and 'href="#veld-result"' in second.text
    kept = staff.web.console.outcomes.get("c1")
    assert kept.result.value == "resolved" and kept.revision == 1
    events = [e for e in staff.app.container.voice.calls.events("c1") if e.kind == K.OUTCOME_RECORDED]
    assert [e.detail["result"] for e in events] == ["resolved"]
    with pytest.raises(OutcomeChanged):  # the store itself: a save on a stale revision writes nothing
        staff.web.console.outcomes.save(call_sid="c1", liaison_id=staff.liaison_id("uwv-jan"),
                                        result=ConversationResult.FOLLOW_UP, referred_organisation=None, note="",
                                        at=START, by=kept.recorded_by, expect_revision=0)
    assert staff.web.console.outcomes.get("c1").result.value == "resolved"
    # past the note retention (90 days) a first outcome is refused, naming the field
    staff.app.clock.moment = START + timedelta(days=91)
    late = staff.client.post("/staff/gesprekken/c3/uitkomst", data={"csrf_token": staff.csrf(), "result": "resolved"})
    assert late.status_code == 409 and 'href="#veld-call"' in late.text and "bewaartermijn" in late.text
    assert staff.web.console.outcomes.get("c3") is None
    assert "/staff/gesprekken/c3" not in staff.client.get("/staff/console/live").text
    # after the retention job deleted the call record: a clear refusal, nothing stored
    with staff.app.container.sessions.begin() as session:
        session.execute(update(CallRow).where(CallRow.sid == "c3").values(sid="gone"))
    gone = staff.client.post("/staff/gesprekken/c3/uitkomst", data={"csrf_token": staff.csrf(), "result": "resolved"})
    assert gone.status_code == 404 and "bewaartermijn is voorbij" in gone.text


def test_a_callback_on_the_line_is_the_current_call_in_the_console(staff: Staff) -> None:
    voice = staff.app.container.voice
    now = staff.app.clock.now()
    values = {"state": "scheduled", "origin": "in_queue", "organisation": "UWV", "topic": "ww", "priority_class": "pro",
              "phone_number": "+31612345601", "line_number": "+31850001000", "place_at": now - timedelta(minutes=5),
              "due_at": now, "expires_at": now + timedelta(hours=48), "attempts": 0, "max_attempts": 3,
              "created_at": now - timedelta(minutes=5), "location": "AMS", "caseworker_id": 1,
              "voice_message_url": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "1" * 32}
    callback, _ = voice.callbacks.create(values, open_key="t:1", cause="test")
    jan = staff.liaison_id("uwv-jan")
    staff.grant_liaison("uwv-jan", "UWV", "uwv-jan")
    staff.login("uwv-jan")
    assert staff.client.post(f"/staff/medewerkers/{jan}/beschikbaarheid",
                             data={"status": "available", "csrf_token": staff.csrf()}).status_code == 200
    voice.router.enqueue(call_sid=f"cb:{callback.id}", org="UWV", topic="ww", klass="pro", enqueued_at_ms=0)
    assert voice.router.claim(call_sid=f"cb:{callback.id}", liaison_id=jan, org="UWV", now_ms=1) == "ok"
    live = staff.client.get("/staff/console/live").text
    current = live[live.index("Huidig gesprek"):live.index("Recente gesprekken")]
    assert "U bent nu niet in gesprek" not in current
    for expected in ("Amsterdam", "Sanne", "UWV", "WW-uitkering", f"Terugbelverzoek {callback.id}",
                     "Bericht van de beller openen"):
        assert expected in current, current
    # The voice message goes through the service: the page never names Twilio's media URL.
    assert f'href="/staff/terugbellen/{callback.id}/bericht"' in current and "api.twilio.com" not in live
    asked: list[str] = []

    class Recordings:
        def audio(self, recording_url: str) -> Audio | None:
            asked.append(recording_url)
            return Audio(b"RIFF-voice", "audio/x-wav") if recording_url.endswith("1" * 32) else None

    staff.web.console = dataclasses.replace(staff.web.console, voice_messages=Recordings())
    heard = staff.client.get(f"/staff/terugbellen/{callback.id}/bericht")
    assert heard.status_code == 200 and heard.content == b"RIFF-voice", heard.text
    assert heard.headers["content-type"] == "audio/x-wav" and heard.headers["cache-control"] == "no-store"
    assert asked == [values["voice_message_url"]]
    [entry] = staff.app.container.parts.audit.entries(action="voice_message")
    assert entry.target == f"/staff/terugbellen/{callback.id}/bericht"
    # Gone at Twilio (the retention job deleted it), another organisation's callback, or none: 404, no audit row.
    values["voice_message_url"] = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "2" * 32
    gone, _ = voice.callbacks.create(values, open_key="t:2", cause="test")
    values.update(organisation="SVB", voice_message_url=values["voice_message_url"].replace("2", "1"))
    other, _ = voice.callbacks.create(values, open_key="t:3", cause="test")
    for callback_id in (gone.id, other.id, 999_999):
        assert staff.client.get(f"/staff/terugbellen/{callback_id}/bericht").status_code == 404
    assert len(staff.app.container.parts.audit.entries(action="voice_message")) == 1

    class Unreachable:
        def audio(self, recording_url: str) -> Audio | None:
            raise ConnectionError("Twilio is not reachable")

    staff.web.console = dataclasses.replace(staff.web.console, voice_messages=Unreachable())
    later = staff.client.get(f"/staff/terugbellen/{callback.id}/bericht")
    assert later.status_code == 503 and "niet op te halen" in later.text
