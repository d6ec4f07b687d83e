"""Four fixes of the call flow, end to end through the Twilio emulator, the app (uvicorn, 2 workers), Redis,
SQLite and, where the fix needs one, a real RQ worker with its scheduler, on the <Dial> bridge (CALLROUTER_BRIDGE=dial):

1. wrap-up ends by itself (the scheduled job, or the reconciler when that job was lost) or when the liaison
   records the outcome in the console, and the next waiting caller then reaches the liaison;
2. a liaison who picks up and hangs up during the whisper was never bridged (Twilio: completed,
   DialBridged=false): the caller goes back to the front of the line, the liaison is away, and the pickup
   does not count as an answer;
3. no redirect to a liaison while the caller hears the acknowledgement ("U gaat voor op de wachtende
   burgers..."): the router takes the call at its first turn of the hold loop;
4. a late status callback is recorded at Twilio's Timestamp, not at the moment it arrived.

And one found on the way: a late pickup report of the first liaison does not count as the answer of the
second offer.

The emulator runs on the machine's wall clock here (wall_clock="real"), so the Timestamps it sends and the
service's own clock agree, while its simulated time still runs 20 times as fast.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from callrouter.adapters import redis_keys
from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.staff_repository import SqlStaffAccounts
from callrouter.domain.calls import CallEvent, EventKind
from callrouter.domain.staff import Grant, Role
from tests.e2e.stack import API_TOKEN, Stack, running_stack
from tests.staff_login import authorize, oidc_provider, provider_entry
from twilio_emulator.calls import Event
from twilio_emulator.driver import CallHandle
from twilio_emulator.people import Phone

SANNE = "+31612345601"  # caseworkers in Amsterdam (registered phones)
MOHAMED = "+31612345602"
UWV_WW = ["#", "1", "1"]  # no case reference (#); Amsterdam menu 1 = UWV; UWV topics 1 = WW
JAN = "client:uwv-jan"
HASAN = "+31612345701"  # uwv-hasan's phone (06-12345701)
WRAP_UP_SECONDS = 3
SCALE = 20.0
SAY_SECONDS_PER_CHAR = 0.1  # a slow speaker: the acknowledgement lasts about 9 simulated seconds
ACKNOWLEDGEMENT = "Dank u. U gaat voor op de wachtende burgers."
RETURNED_TO_QUEUE = "De medewerker neemt niet op. U blijft vooraan in de rij."

T = TypeVar("T")


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    """A local OpenID provider, so a liaison can log in to the console."""
    with oidc_provider() as url:
        yield url


@pytest.fixture(scope="module")
def flow_stack(redis_url: str, issuer: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("call-flow-fixes")
    # Pinned to the two-party <Dial> bridge: these tests follow its legs (children, bridged, DialBridged); the
    # conference bridge's own checks are tests/e2e/test_conference_bridge.py and tests/integration's.
    settings = {"CALLROUTER_BRIDGE": "dial", "CALLROUTER_WRAP_UP_SECONDS": str(WRAP_UP_SECONDS),
                "CALLROUTER_OIDC_PROVIDERS": json.dumps([provider_entry(issuer, key="rijk", label="Rijks-inlog")])}
    with running_stack(redis_url=redis_url, database_url=f"sqlite:///{workdir / 'flow.sqlite3'}", workdir=workdir,
                       time_scale=SCALE, settings=settings,
                       emulator_options={"wall_clock": "real", "say_seconds_per_char": SAY_SECONDS_PER_CHAR}) as stack:
        yield stack


@pytest.fixture()
def fx(flow_stack: Stack, redis) -> Iterator[Stack]:  # noqa: ANN001 - Redis flushed before and after each test
    emulator = flow_stack.emulator
    emulator.duplicate_status_callbacks = emulator.reorder_status_callbacks = False
    emulator.status_callback_delay = 0
    yield flow_stack
    emulator.status_callback_delay = 0
    for proc in list(flow_stack.workers):
        flow_stack.kill_worker(proc)
    hang_up_what_is_left(flow_stack)
    emulator.wait_until_idle(timeout=60)


def hang_up_what_is_left(stack: Stack) -> None:
    """A failed test may leave a caller waiting for good: hang up (REST) so the next test starts clean."""
    config = stack.emulator.config
    for call in stack.emulator.calls:
        if not call.done and call.direction == "inbound" and call.status == "in-progress":
            httpx.post(f"{stack.emulator.base_url}/2010-04-01/Accounts/{config.account_sid}/Calls/{call.sid}.json",
                       data={"Status": "completed"}, auth=(config.account_sid, config.auth_token), timeout=10)


# helpers ------------------------------------------------------------------------------------
def wait_until(predicate: Callable[[], T], *, timeout: float = 30, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def presence(stack: Stack, code: str) -> dict[str, object]:
    response = httpx.get(f"{stack.app_url}/api/liaisons/{stack.liaison_id(code)}/presence",
                         headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def store(stack: Stack) -> SqlCallStore:
    return SqlCallStore(make_session_factory(make_engine(stack.database_url)))


def kinds_of(events: list[CallEvent]) -> list[EventKind]:
    return [e.kind for e in events]


def bridged_with(call: CallHandle) -> list[str]:
    return [e["with"] for e in call.events("bridged")]


def no_errors(*calls: CallHandle) -> None:
    for call in calls:
        assert not call.events("application_error") and not call.events("emulator_error"), call.format()


def dial_actions(call: CallHandle) -> list[dict[str, str]]:
    """The parameters of every Dial action request the emulator made for this call, in order."""
    return [e["params"] for e in call.webhooks("action") if "DialCallStatus" in e["params"]]


def said(call: CallHandle, starts: str) -> Event:
    found = [e for e in call.events("say") if e["text"].startswith(starts)]
    assert found, f"nobody said {starts!r}:\n{call.format()}"
    return found[0]


def wall(stack: Stack, t: float) -> datetime:
    """The machine's time at simulated time t (the emulator runs on the real wall clock here)."""
    return stack.emulator.engine.clock.wall(t)


def wrap_up_jobs(redis) -> list[str]:  # noqa: ANN001
    registry = ScheduledJobRegistry(queue=Queue("callrouter", connection=redis))
    jobs = [registry.get_queue().fetch_job(job_id) for job_id in registry.get_job_ids()]
    return [job.id for job in jobs if job is not None and job.func_name == "workers.jobs.end_wrap_up"]


def first_call_then_a_waiting_second(fx: Stack, *, talk_seconds: float = 20) -> tuple[CallHandle, CallHandle]:
    """Jan talks with Sanne; Mohamed calls meanwhile and waits for Jan (the only UWV liaison on duty)."""
    fx.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=talk_seconds))
    assert fx.set_presence("uwv-jan", "available").status_code == 200
    first = fx.call(from_=SANNE, digits=UWV_WW)
    first.wait_for_event("bridged", timeout=30)
    second = fx.call(from_=MOHAMED, digits=UWV_WW)
    second.wait_for_event("enqueued", timeout=30)
    first.wait_until_ended(timeout=30)
    return first, second


# 1. wrap-up ends --------------------------------------------------------------------------------
def test_wrap_up_ends_by_itself_and_the_waiting_caller_then_reaches_the_liaison(fx: Stack, redis) -> None:  # noqa: ANN001
    fx.start_worker()  # with its scheduler: it runs the end_wrap_up job when it is due
    dials_before = fx.emulator.dials_to(JAN)
    first, second = first_call_then_a_waiting_second(fx)
    assert bridged_with(first) == [JAN]

    # After the conversation: wrap-up, with its end scheduled in RQ; the waiting caller is not put through.
    jan = presence(fx, "uwv-jan")
    assert jan["status"] == "wrap_up" and jan["call_sid"] is None, jan
    assert len(wrap_up_jobs(redis)) == 1
    assert fx.emulator.dials_to(JAN) == dials_before + 1 and not second.events("dial_started")

    # It ends by itself: Jan is available, and the waiting caller is routed to Jan.
    second.wait_for_event("bridged", timeout=WRAP_UP_SECONDS + 30)
    assert bridged_with(second) == [JAN]
    jan_leg_of_first = first.children[0]
    conversation_over = wall(fx, jan_leg_of_first.events("hangup")[0].t)
    dialled_again = wall(fx, second.events("dial_started")[0].t)
    assert (dialled_again - conversation_over).total_seconds() >= WRAP_UP_SECONDS - 0.5  # not before its time

    second.wait_until_ended(timeout=30)
    no_errors(first, second)
    # and after the second conversation the same again: wrap-up, then available without anybody's help
    wait_until(lambda: presence(fx, "uwv-jan")["status"] == "available", timeout=WRAP_UP_SECONDS + 20,
               what="Jan available after the second wrap-up")
    record = store(fx).get(second.sid)
    assert record is not None and record.outcome == "answered" and record.liaison_id == fx.liaison_id("uwv-jan")


def test_the_reconciler_ends_a_wrap_up_whose_timer_was_lost(fx: Stack, redis) -> None:  # noqa: ANN001
    """No worker runs when the wrap-up is due, and its scheduled job is gone (the process that was to
    schedule it died): the reconciler ends the overdue wrap-up, and the waiting caller reaches Jan."""
    first, second = first_call_then_a_waiting_second(fx)
    assert presence(fx, "uwv-jan")["status"] == "wrap_up"
    lost = wrap_up_jobs(redis)
    assert len(lost) == 1
    registry = ScheduledJobRegistry(queue=Queue("callrouter", connection=redis))
    for job_id in lost:
        registry.remove(job_id, delete_job=True)
    assert wrap_up_jobs(redis) == []

    time.sleep(WRAP_UP_SECONDS + 1)  # overdue now
    assert presence(fx, "uwv-jan")["status"] == "wrap_up"  # nothing else ends it
    assert not second.events("dial_started")

    redis.set(redis_keys.live_state_marker(), "1")  # Redis has its data: the reconciler rebuilds nothing
    Queue("callrouter", connection=redis).enqueue("workers.jobs.reconcile_live_state")
    fx.start_worker()
    second.wait_for_event("bridged", timeout=60)
    assert bridged_with(second) == [JAN]
    second.wait_until_ended(timeout=30)
    no_errors(first, second)


def console_of(stack: Stack, issuer: str, code: str) -> tuple[httpx.Client, str]:
    """A browser of the liaison `code`, logged in to the console through the OpenID provider; and its CSRF token."""
    accounts = SqlStaffAccounts(make_session_factory(make_engine(stack.database_url)))
    accounts.grant(issuer=issuer, subject=code, grant=Grant(Role.LIAISON, "UWV", stack.liaison_id(code)), by="test",
                   at=datetime.now(UTC))
    browser = httpx.Client(base_url=stack.app_url, timeout=10)
    start = browser.get("/staff/inloggen/rijk")
    assert start.status_code == 303, start.text[:300]
    back = authorize(start.headers["location"], code)
    assert back.startswith(stack.app_url), back
    logged_in = browser.get(back[len(stack.app_url):])
    assert logged_in.status_code == 303, logged_in.text[:300]
    found = re.search(r'name="csrf-token" content="([^"]+)"', browser.get("/staff/console").text)
    assert found, "no CSRF token on the console"
    return browser, found.group(1)


def test_recording_the_outcome_in_the_console_ends_wrap_up_at_once(fx: Stack, issuer: str, redis) -> None:  # noqa: ANN001
    """No worker runs, so the timer cannot end the wrap-up: recording the outcome does, and the waiting caller
    is put through to Jan."""
    first, second = first_call_then_a_waiting_second(fx)
    browser, token = console_of(fx, issuer, "uwv-jan")
    try:
        assert presence(fx, "uwv-jan")["status"] == "wrap_up"
        assert not second.events("dial_started")
        saved = browser.post(f"/staff/gesprekken/{first.sid}/uitkomst", data={"csrf_token": token, "result": "resolved"})
        assert saved.status_code == 303, saved.text[:300]
        assert presence(fx, "uwv-jan")["status"] in ("available", "busy")  # busy: already ringing for Mohamed
    finally:
        browser.close()
    second.wait_for_event("bridged", timeout=30)
    assert bridged_with(second) == [JAN]
    assert len(wrap_up_jobs(redis)) == 1  # the timer of the first wrap-up never ran: the outcome ended it
    second.wait_until_ended(timeout=30)
    no_errors(first, second)


# 2. hang-up during the whisper ---------------------------------------------------------------------
def whisper_quitter(fx: Stack, *, after: float = 5) -> None:
    """Jan picks up and hangs up `after` seconds into the whisper (8 s long), before the bridge. Five seconds
    (a quarter of a second of real time) give Jan's "answered" report time to arrive before the Dial action."""
    fx.phone("uwv-jan", Phone("hangup-on-whisper", answer_after=0.5, whisper_hangup_after=after))


def test_a_liaison_who_hangs_up_during_the_whisper_sends_the_caller_back_to_the_front(fx: Stack) -> None:
    whisper_quitter(fx)
    fx.phone("uwv-hasan", Phone("answer", answer_after=0.5, talk_seconds=3))
    assert fx.set_presence("uwv-jan", "available").status_code == 200
    time.sleep(0.05)
    assert fx.set_presence("uwv-hasan", "available").status_code == 200  # Jan idle longer: offered first
    call = fx.call(from_=SANNE, digits=UWV_WW)
    call.wait_until_ended(timeout=60)
    no_errors(call)

    # The emulator: Jan's leg picked up, never bridged; the Dial action said so, as Twilio says it.
    jan_leg, hasan_leg = call.children
    assert jan_leg.to == JAN and hasan_leg.to == HASAN
    assert jan_leg.events("answered") and not jan_leg.events("bridged") and jan_leg.ended_by == "callee"
    first_dial, second_dial = dial_actions(call)
    assert (first_dial["DialCallStatus"], first_dial["DialBridged"], first_dial["DialCallDuration"],
            first_dial["DialCallSid"]) == ("completed", "false", "0", jan_leg.sid)
    assert (second_dial["DialCallStatus"], second_dial["DialBridged"], second_dial["DialCallSid"]) == (
        "completed", "true", hasan_leg.sid)

    # The caller hears they are back in line, and is put through to the next liaison.
    back = said(call, RETURNED_TO_QUEUE)
    assert jan_leg.events("hangup")[0].t <= back.t < call.events("dial_started")[1].t
    assert bridged_with(call) == [HASAN]

    # Jan is away (not stuck busy, not available for the next caller).
    jan = presence(fx, "uwv-jan")
    assert jan["status"] == "away" and jan["call_sid"] is None, jan

    # The record: Jan's pickup was answered, then not bridged; the call is answered because Hasan talked.
    events = store(fx).events(call.sid)
    kinds = kinds_of(events)
    assert EventKind.NOT_BRIDGED in kinds and EventKind.LIAISON_NO_ANSWER not in kinds, kinds
    assert kinds.index(EventKind.ANSWERED) < kinds.index(EventKind.NOT_BRIDGED), kinds
    not_bridged = events[kinds.index(EventKind.NOT_BRIDGED)]
    assert not_bridged.detail["liaison"] == fx.liaison_id("uwv-jan")
    assert kinds.count(EventKind.OFFERED) == 2
    assert kinds.index(EventKind.NOT_BRIDGED) < max(i for i, k in enumerate(kinds) if k == EventKind.OFFERED)
    record = store(fx).get(call.sid)
    assert record is not None and record.outcome == "answered"
    assert record.liaison_id == fx.liaison_id("uwv-hasan")


def test_a_pickup_during_the_whisper_alone_is_not_an_answered_call(fx: Stack) -> None:
    """Nobody else on duty: the caller waits at the front of the line and gives up; the call was not answered."""
    whisper_quitter(fx)
    assert fx.set_presence("uwv-jan", "available").status_code == 200
    call = fx.call(from_=SANNE, digits=UWV_WW, hangup_delay=20,
                   hangup_when=lambda t: any(e.kind == "say" and e["text"].startswith(RETURNED_TO_QUEUE) for e in t))
    call.wait_until_ended(timeout=60)
    no_errors(call)
    assert not call.events("bridged") and len(call.events("dial_started")) == 1
    [dial] = dial_actions(call)
    assert (dial["DialCallStatus"], dial["DialBridged"]) == ("completed", "false")
    assert presence(fx, "uwv-jan")["status"] == "away"
    record = wait_until(lambda: (r := store(fx).get(call.sid)) and r.outcome is not None and r,
                        what="the call to end in the record")
    assert record.outcome == "abandoned_in_queue" and record.answered_at is None
    kinds = kinds_of(store(fx).events(call.sid))
    assert kinds.index(EventKind.ANSWERED) < kinds.index(EventKind.NOT_BRIDGED) < kinds.index(EventKind.ABANDONED)
    assert EventKind.COMPLETED not in kinds


def test_a_late_pickup_report_of_the_first_liaison_does_not_count_for_the_next(fx: Stack) -> None:
    """Status callbacks arrive 22.5 (simulated) seconds late: Jan's "answered" report comes after the Dial action
    that says Jan was never bridged, while Hasan's phone rings for the same call. It must not count as the
    call's answer; Hasan's pickup does."""
    whisper_quitter(fx, after=2)
    # Jan hangs up about 2.5 s after the pickup; the caller hears the sentence (5.6 s) and Hasan's phone rings
    # for 17 s from about 9 s after it on a quiet machine, later on a loaded one (17.7 s seen in CI: the service
    # routed the returned call 0.43 real seconds later). Jan's report arrives 22.5 s after the pickup: inside
    # the ringing for a start between 5.5 and 22.5 s, so 13.5 simulated seconds (0.68 real ones) of slack for
    # a loaded machine, and still 3.5 s before Hasan's pickup on a quiet one.
    # (Hasan talks long enough for his own late report to come before the Dial action: the record then takes
    # the pickup time from it, not from DialCallDuration, which is in simulated seconds here.)
    fx.phone("uwv-hasan", Phone("answer", answer_after=17, talk_seconds=30))
    assert fx.set_presence("uwv-jan", "available").status_code == 200
    time.sleep(0.05)
    assert fx.set_presence("uwv-hasan", "available").status_code == 200
    fx.emulator.status_callback_delay = 22.5
    call = fx.call(from_=SANNE, digits=UWV_WW)
    call.wait_until_ended(timeout=60)
    no_errors(call)
    assert bridged_with(call) == [HASAN]
    jan_leg, hasan_leg = call.children
    jan_answered_report, = [e for e in jan_leg.events("status_callback") if e["params"]["CallStatus"] == "in-progress"]
    assert hasan_leg.events("ringing")[0].t < jan_answered_report.t < hasan_leg.events("answered")[0].t, (
        "the precondition: Jan's report arrives while Hasan's phone rings")
    events = store(fx).events(call.sid)
    kinds = kinds_of(events)
    second_offer = events[max(i for i, k in enumerate(kinds) if k == EventKind.OFFERED)]
    assert second_offer.detail["liaison"] == fx.liaison_id("uwv-hasan")
    after_jan = events[kinds.index(EventKind.NOT_BRIDGED) + 1:]
    answers = [e.detail["liaison"] for e in after_jan if e.kind == EventKind.ANSWERED]
    assert answers == [fx.liaison_id("uwv-hasan")], [(e.kind.value, e.detail) for e in events]
    record = store(fx).get(call.sid)
    assert record is not None and record.outcome == "answered" and record.answered_at is not None
    assert record.answered_at >= second_offer.at - timedelta(seconds=1)  # Hasan's pickup, not Jan's


# 3. no redirect before the acknowledgement -----------------------------------------------------------
def assert_put_through_after_the_acknowledgement(fx: Stack, call: CallHandle) -> None:
    ack = said(call, ACKNOWLEDGEMENT)
    ack_ends = ack.t + len(ack["text"]) * SAY_SECONDS_PER_CHAR
    transcript = call.transcript
    after_ack = [e for e in transcript[transcript.index(ack) + 1:] if e.kind not in ("webhook", "status_callback")]
    assert after_ack[0].kind == "enqueued", call.format()  # the sentence ran to its end, nothing cut it off
    redirected, = call.events("redirected")
    dialled = call.events("dial_started")[0]
    assert ack_ends <= after_ack[0].t <= redirected.t <= dialled.t, call.format()


def test_two_callers_hear_the_acknowledgement_to_its_end_before_they_are_put_through(fx: Stack) -> None:
    for code in ("uwv-jan", "uwv-hasan"):
        fx.phone(code, Phone("answer", answer_after=0.5, talk_seconds=3))
        assert fx.set_presence(code, "available").status_code == 200
    first = fx.call(from_=SANNE, digits=UWV_WW)
    time.sleep(1 / SCALE)  # a (simulated) second apart
    second = fx.call(from_=MOHAMED, digits=UWV_WW)
    for call in (first, second):
        call.wait_until_ended(timeout=60)
    no_errors(first, second)
    assert sorted(bridged_with(first) + bridged_with(second)) == sorted([JAN, HASAN])
    for call in (first, second):
        assert_put_through_after_the_acknowledgement(fx, call)


def test_a_liaison_free_during_the_acknowledgement_waits_for_its_end(fx: Stack) -> None:
    fx.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=3))
    assert fx.set_presence("uwv-jan", "away").status_code == 200  # on duty, not free yet
    call = fx.call(from_=SANNE, digits=UWV_WW)
    call.wait_for(lambda t: any(e.kind == "say" and e["text"].startswith(ACKNOWLEDGEMENT) for e in t), timeout=30)
    assert fx.set_presence("uwv-jan", "available").status_code == 200
    ack = said(call, ACKNOWLEDGEMENT)
    free_at = fx.emulator.engine.clock.now()
    assert free_at < ack.t + len(ack["text"]) * SAY_SECONDS_PER_CHAR, "Jan was not free during the sentence"
    call.wait_until_ended(timeout=60)
    no_errors(call)
    assert bridged_with(call) == [JAN]
    assert_put_through_after_the_acknowledgement(fx, call)


# 4. status callback times -----------------------------------------------------------------------------
def test_a_late_status_callback_is_recorded_at_twilio_s_timestamp(fx: Stack) -> None:
    """Sanne hangs up in the first menu, where no Twilio request but the status callback tells the service;
    that callback arrives three seconds late. The record keeps the moment of the hang-up."""
    delay = 3 * SCALE  # simulated seconds: 3 s of real time
    fx.emulator.status_callback_delay = delay
    call = fx.call(from_=SANNE, digits=[None], hangup_when="gather", hangup_delay=1)
    call.wait_until_ended(timeout=30)  # includes the late delivery
    no_errors(call)
    hangup, = call.events("hangup")
    delivered, = call.events("status_callback")
    assert delivered["params"]["CallStatus"] == "completed"
    stamped = parsedate_to_datetime(delivered["params"]["Timestamp"])
    assert abs((stamped - wall(fx, hangup.t)).total_seconds()) <= 1  # the moment of the hang-up (whole seconds)
    assert (wall(fx, delivered.t) - stamped).total_seconds() >= delay / SCALE - 1  # ...delivered 3 s later

    events = store(fx).events(call.sid)
    status, = [e for e in events if e.kind == EventKind.STATUS]
    ended, = [e for e in events if e.kind == EventKind.ABANDONED]
    assert status.detail["status"] == "completed"
    assert status.at == stamped and ended.at == stamped
    record = store(fx).get(call.sid)
    assert record is not None and record.outcome == "abandoned_in_menu" and record.ended_at == stamped
    # Everything else the service noted before the hang-up came before it, on the same clock.
    assert max(e.at for e in events if e.kind not in (EventKind.STATUS, EventKind.ABANDONED)) <= stamped + timedelta(seconds=1)
