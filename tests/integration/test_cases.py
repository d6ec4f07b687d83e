"""Cases on a real database (SQLite and PostgreSQL): the case-reference step as Twilio drives it, how calls
form cases (same reference, the window, two calls at once), and the page /staff/dashboard/zaken with its
exports, roles and refusals on a fixed set of calls computed by hand."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.call_tables import CallRow
from callrouter.adapters.sql.case_repository import SqlCaseStore
from callrouter.adapters.sql.case_tables import CaseRow
from callrouter.adapters.sql.staff_tables import ConversationOutcomeRow, StaffAccountRow
from callrouter.domain.calls import CallRecord, CallState
from callrouter.domain.cases import CasePolicy, reference_pseudonym
from callrouter.domain.staff import Grant, Role
from tests.integration.conftest import App
from tests.integration.staff_fixtures import Staff
from tests.integration.test_dashboard import START, abandoned, answered, call, log_in_as
from tests.integration.test_voice_webhooks import call_params, new_sid, said, twiml, verbs

REFERENCE_URL = "/twilio/voice/case-reference"


def _gather(root):  # type: ignore[no-untyped-def]
    gathers = list(root.iter("Gather"))
    assert len(gathers) == 1
    return gathers[0]


def _case_of(app: App, sid: str) -> tuple[int | None, str | None]:
    return SqlCaseStore(app.container.sessions).case_of(sid)


def _everything_stored(app: App) -> str:
    """Every call, event and case row as text: to check that refused digits are nowhere."""
    with app.container.engine.connect() as conn:
        rows = [*conn.execute(text("SELECT * FROM calls")), *conn.execute(text("SELECT * FROM call_events")),
                *conn.execute(text("SELECT * FROM cases"))]
    return " ".join(str(tuple(r)) for r in rows)


@pytest.fixture()
def ivr(app_factory) -> App:  # noqa: ANN001
    return app_factory(case_reference=True)


def test_after_identification_the_caller_is_asked_for_an_optional_reference(ivr: App) -> None:
    sid = new_sid()
    root = twiml(ivr.post("/twilio/voice/incoming", call_params(sid)))
    gather = _gather(root)
    assert gather.get("action", "").endswith(REFERENCE_URL)
    assert gather.get("finishOnKey") == "#" and gather.get("timeout") == "5" and gather.get("numDigits") is None
    assert "Welkom bij de professionallijn" in said(root) and "eigen dossiernummer" in said(root)
    assert "For English, press 9." in said(root)
    assert _case_of(ivr, sid) == (None, None)  # no case before the question is answered

    root = twiml(ivr.post(REFERENCE_URL, call_params(sid, Digits="4711")))
    assert "Met welke organisatie" in said(root)
    assert _gather(root).get("action", "").endswith("/twilio/voice/menu?step=organisation")
    case_id, stored = _case_of(ivr, sid)
    caseworker = ivr.container.directory.caseworker_by_phone("+31612345601")
    assert caseworker is not None
    assert case_id is not None
    assert stored == reference_pseudonym(caseworker_id=caseworker.id, reference="4711",
                                         key=ivr.container.voice.pseudonym_key)
    assert "4711" not in _everything_stored(ivr)


@pytest.mark.parametrize("silence", ["", "#"])
def test_silence_or_hash_alone_goes_on_without_a_reference(ivr: App, silence: str) -> None:
    sid = new_sid()
    twiml(ivr.post("/twilio/voice/incoming", call_params(sid)))
    root = twiml(ivr.post(REFERENCE_URL, call_params(sid, Digits=silence)))
    assert "Met welke organisatie" in said(root) and "Hangup" not in verbs(root)
    case_id, stored = _case_of(ivr, sid)
    assert case_id is not None and stored is None


def test_a_citizen_service_number_is_refused_asked_once_more_and_never_stored(ivr: App,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    sid = new_sid()
    twiml(ivr.post("/twilio/voice/incoming", call_params(sid)))
    root = twiml(ivr.post(REFERENCE_URL, call_params(sid, Digits="111222333")))
    assert "BSN" in said(root) and "eigen dossiernummer" in said(root)
    assert _gather(root).get("action", "").endswith(REFERENCE_URL)
    root = twiml(ivr.post(REFERENCE_URL, call_params(sid, Digits="123456782")))
    assert "zonder dossiernummer" in said(root) and "Met welke organisatie" in said(root)
    case_id, stored = _case_of(ivr, sid)
    assert case_id is not None and stored is None
    everything = _everything_stored(ivr)
    assert "111222333" not in everything and "123456782" not in everything
    assert "111222333" not in caplog.text and "123456782" not in caplog.text
    reasons = [e.detail.get("reason") for e in ivr.container.voice.calls.events(sid) if e.detail.get("reason")]
    assert reasons == ["citizen_number", "citizen_number"]


def test_a_malformed_reference_is_asked_once_more_then_the_call_goes_on(ivr: App) -> None:
    sid = new_sid()
    twiml(ivr.post("/twilio/voice/incoming", call_params(sid)))
    root = twiml(ivr.post(REFERENCE_URL, call_params(sid, Digits="1234567890123")))
    assert "2 tot 12 cijfers" in said(root) and _gather(root).get("action", "").endswith(REFERENCE_URL)
    root = twiml(ivr.post(REFERENCE_URL, call_params(sid, Digits="1")))
    assert "zonder dossiernummer" in said(root) and "Met welke organisatie" in said(root)
    # A stale repeat of the step (the call is in the organisation menu now) just hears that menu again.
    root = twiml(ivr.post(REFERENCE_URL, call_params(sid, Digits="4711")))
    assert "Met welke organisatie" in said(root)
    assert _case_of(ivr, sid)[1] is None


def test_nine_gives_the_question_in_english(ivr: App) -> None:
    sid = new_sid()
    twiml(ivr.post("/twilio/voice/incoming", call_params(sid)))
    root = twiml(ivr.post(REFERENCE_URL, call_params(sid, Digits="9")))
    assert "own case number" in said(root)
    root = twiml(ivr.post(REFERENCE_URL, call_params(sid, Digits="")))
    assert "Which organisation" in said(root)


def test_calls_of_one_caseworker_form_cases_by_reference_and_window(ivr: App) -> None:
    start = ivr.clock.moment

    def one_call(minutes: float, digits: str) -> int | None:
        ivr.clock.moment = start + timedelta(minutes=minutes)
        sid = new_sid()
        twiml(ivr.post("/twilio/voice/incoming", call_params(sid)))
        twiml(ivr.post(REFERENCE_URL, call_params(sid, Digits=digits)))
        return _case_of(ivr, sid)[0]

    first = one_call(0, "")
    assert one_call(25, "") == first  # within 30 minutes of the last call
    assert one_call(50, "") == first  # 25 minutes after the previous one: the window slides
    later = one_call(81, "")  # 31 minutes after the last call: a new case
    assert later != first
    with_reference = one_call(82, "4711")
    assert with_reference not in (first, later)
    assert one_call(60 * 24 * 29, "4711") == with_reference  # the same reference, 29 days later
    assert one_call(60 * 24 * 31, "4711") not in (with_reference, None)  # over 30 days: a new case
    assert one_call(83, "4712") not in (with_reference, first, later)
    with ivr.container.sessions() as session:
        cases = {row.id: row for row in session.scalars(select(CaseRow))}
    assert cases[first].calls == 3 and cases[with_reference].calls == 2


def _open(store: SqlCallStore, sid: str, at: datetime) -> None:
    store.open_call(CallRecord(sid=sid, line_number="+31850001000", line_kind="professional", caller_pseudonym="p",
                               caller_masked="+316****01", state=CallState.MENU, received_at=at, caseworker_id=7,
                               location="AMS"), detail={})


@pytest.mark.parametrize("stale_case", [False, True])
def test_calls_of_one_caseworker_at_once_on_several_threads_form_one_case(app: App, stale_case: bool) -> None:
    """Eight calls of one caseworker attached at the same moment, each on its own connection: one case.
    With a stale case of the caseworker (over the window), its key is taken over once, not eight times."""
    sessions = app.container.sessions
    calls, at = SqlCallStore(sessions), datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    cases = SqlCaseStore(sessions, policy=CasePolicy(window=timedelta(minutes=30)))
    if stale_case:
        _open(calls, "old", at - timedelta(hours=2))
        old = cases.attach(call_sid="old", caseworker_id=7, location="AMS", reference=None, at=at - timedelta(hours=2))
    sids = [f"c{i}" for i in range(8)]
    for sid in sids:
        _open(calls, sid, at)
    barrier = threading.Barrier(len(sids))
    found: dict[str, int | None] = {}
    errors: list[BaseException] = []

    def attach(sid: str) -> None:
        try:
            barrier.wait()
            found[sid] = cases.attach(call_sid=sid, caseworker_id=7, location="AMS", reference=None, at=at)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=attach, args=(sid,)) for sid in sids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert len(set(found.values())) == 1 and None not in found.values()
    with sessions() as session:
        rows = list(session.scalars(select(CaseRow).order_by(CaseRow.id)))
        assert session.scalar(select(CaseRow.calls).where(CaseRow.id == found["c0"])) == 8
    assert len(rows) == (2 if stale_case else 1)
    if stale_case:
        assert found["c0"] != old and [r.open_key for r in rows] == [None, "7:-"]


# -- the page -------------------------------------------------------------------------------------------
#
# Wednesday 25 November 2026 from 09:00 Amsterdam (START), calls written through the call store, grouped by
# hand into cases, liaison outcomes recorded:
#   case A (AMS): a1 UWV ww answered, outcome resolved; a2 SVB aow answered, referred to TSL
#   case B (AMS): b1 UWV ww answered, follow_up;        b2 SVB aow abandoned in the queue
#   case C (UTR): c1 DUO studiefinanciering answered, outcome resolved
#   case D (AMS): d1 UWV wia answered, referred to CAK
# Cases 4, multi-organisation 2 (A, B: SVB + UWV) -> 50 %; with a referral 2 (A, D).
# Outcomes in multi cases: resolved 1, referred 1, follow_up 1, abandoned_in_queue 1; referred to TSL 1.
# Topics: UWV ww 2 (2 multi), SVB aow 2 (2), DUO studiefinanciering 1 (0), UWV wia 1 (0).
# Counters: AMS 3 (2 multi), UTR 1 (0).  A UWV team lead: cases A, B, D -> 3 cases, 2 multi; outcomes of
# UWV calls in multi cases: resolved 1, follow_up 1.

PLAN = {
    "A": ("AMS", [("a1", "UWV", "ww", answered(15), ("resolved", None)),
                  ("a2", "SVB", "aow", answered(20), ("referred", "TSL"))]),
    "B": ("AMS", [("b1", "UWV", "ww", answered(30), ("follow_up", None)),
                  ("b2", "SVB", "aow", abandoned(40), None)]),
    "C": ("UTR", [("c1", "DUO", "studiefinanciering", answered(5), ("resolved", None))]),
    "D": ("AMS", [("d1", "UWV", "wia", answered(10), ("referred", "CAK"))]),
}


@pytest.fixture()
def staff_with_cases(staff: Staff) -> Staff:
    sessions = staff.app.container.sessions
    calls, cases = SqlCallStore(sessions), SqlCaseStore(sessions)
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    with sessions() as session:
        account = session.scalar(select(StaffAccountRow.id))
    liaison = staff.liaison_id("uwv-jan")
    minute = 0
    for worker, (location, plan) in enumerate(PLAN.values()):
        for sid, org, topic, events, outcome in plan:
            call(calls, sid, minute, org, topic, location, "professional", events)
            cases.attach(call_sid=sid, caseworker_id=100 + worker, location=location, reference=None,
                         at=START + timedelta(minutes=minute))
            minute += 3
            if outcome:
                with sessions.begin() as session:
                    call_id = session.scalar(select(CallRow.id).where(CallRow.sid == sid))
                    session.add(ConversationOutcomeRow(call_id=call_id, liaison_id=liaison, outcome=outcome[0],
                                                       referred_organisation=outcome[1], note="", recorded_at=START,
                                                       updated_at=START, recorded_by=account))
    return staff


def test_a_supervisor_sees_the_cases_with_definitions(staff_with_cases: Staff) -> None:
    page = staff_with_cases.client.get("/staff/dashboard/zaken")
    assert page.status_code == 200, page.text[:500]
    html = page.text
    for figure, value in (("cases", "4"), ("multi", "2"), ("share", "50,0 %"), ("with_referral", "2")):
        assert f'data-figure="{figure}">{value}<' in html
    assert "<th scope=\"row\">SVB + UWV</th><td>2</td><td>TSL (1)</td>" in html
    assert "Een doorverwijzing telt niet als contact" in html and "binnen 30 minuten" in html
    assert "<title id=\"combi-svg-title\">" in html


def test_the_json_and_csv_exports_hold_the_same_numbers(staff_with_cases: Staff) -> None:
    body = json.loads(staff_with_cases.client.get("/staff/dashboard/zaken?format=json").text)
    assert body["totals"] == {"cases": 4, "multi_organisation": 2, "share": 0.5, "with_referral": 2}
    assert body["combinations"] == [{"organisations": "SVB + UWV", "cases": 2, "referred_to": {"TSL": 1}}]
    assert [(r["topic"], r["cases"], r["multi_organisation"]) for r in body["by_topic"]] == [
        ("SVB aow", 2, 2), ("UWV ww", 2, 2), ("DUO studiefinanciering", 1, 0), ("UWV wia", 1, 0)]
    assert [(r["location"], r["cases"], r["multi_organisation"]) for r in body["by_location"]] == [
        ("AMS", 3, 2), ("UTR", 1, 0)]
    assert {r["outcome"]: r["calls"] for r in body["outcomes"]} == {
        "resolved": 1, "referred": 1, "follow_up": 1, "abandoned_in_queue": 1}
    assert body["referred_to"] == [{"organisation": "TSL", "calls": 1}]
    assert set(body["definitions"]) >= {"cases", "multi", "share", "referred"}

    response = staff_with_cases.client.get("/staff/dashboard/zaken?format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    total = next(r for r in rows if r["section"] == "total")
    assert (total["cases"], total["multi_organisation"], total["share"]) == ("4", "2", "0.5")
    combo = next(r for r in rows if r["section"] == "combination")
    assert (combo["key"], combo["cases"], combo["referred_to"]) == ("SVB + UWV", "2", "TSL 1")


def test_a_team_lead_sees_only_cases_that_touched_their_organisation(staff_with_cases: Staff) -> None:
    log_in_as(staff_with_cases, "lead", Grant(Role.TEAM_LEAD, "UWV"))
    body = json.loads(staff_with_cases.client.get("/staff/dashboard/zaken?format=json").text)
    assert body["totals"] == {"cases": 3, "multi_organisation": 2, "share": pytest.approx(2 / 3), "with_referral": 2}
    assert {r["outcome"]: r["calls"] for r in body["outcomes"]} == {"resolved": 1, "follow_up": 1}
    refused = staff_with_cases.client.get("/staff/dashboard/zaken?organisatie=DUO&format=json")
    assert refused.status_code == 403 and refused.json()["field"] == "organisatie"


def test_filters_by_topic_and_counter(staff_with_cases: Staff) -> None:
    get = staff_with_cases.client.get
    assert json.loads(get("/staff/dashboard/zaken?onderwerp=aow&format=json").text)["totals"]["cases"] == 2
    assert json.loads(get("/staff/dashboard/zaken?loket=UTR&format=json").text)["totals"]["cases"] == 1
    assert json.loads(get("/staff/dashboard/zaken?soort=citizen&format=json").text)["totals"]["cases"] == 0
    other_day = json.loads(get("/staff/dashboard/zaken?van=2026-11-24&tot=2026-11-24&format=json").text)
    assert other_day["totals"]["cases"] == 0


@pytest.mark.parametrize("query, status, field", [
    ("zaak=1", 400, "zaak"), ("periode=eeuw", 422, "periode"), ("van=2026-11-30&tot=2026-11-01", 422, "tot"),
    ("van=2020-01-01&tot=2026-11-25", 422, "tot"), ("organisatie=XYZ", 422, "organisatie"),
    ("format=xml", 422, "format"), ("loket=NOPE", 422, "loket")])
def test_unknown_filters_and_periods_are_refused_naming_the_parameter(staff_with_cases: Staff, query: str,
                                                                      status: int, field: str) -> None:
    page = staff_with_cases.client.get(f"/staff/dashboard/zaken?{query}")
    assert page.status_code == status and f"(parameter: {field})" in page.text
    if field != "format":  # the export's own format=json would replace the bad one
        exported = staff_with_cases.client.get(f"/staff/dashboard/zaken?{query}&format=json")
        assert exported.status_code == status and exported.json()["field"] == field


def test_without_a_supervisor_role_the_page_is_refused(staff: Staff) -> None:
    staff.grant_liaison("liaison", "UWV", "uwv-jan")
    staff.login("liaison")
    response = staff.client.get("/staff/dashboard/zaken?format=csv")
    assert response.status_code == 403 and response.json()["field"] == "rol"
