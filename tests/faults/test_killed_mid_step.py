"""A web or worker process killed (SIGKILL) in the middle of a live call's step, where Redis and SQL are
changed one after the other: between the router's claim of a liaison and the record's offer; in the middle of
the return to the front of the line after a no-answer (`connected._back_in_line`); and the job that ends a
liaison's wrap-up, between the router and the record. After the repair (HAProxy's retry of the webhook, or
the cron's next reconcile) no liaison stays busy, the call is in line again in its old place and is routed
again, and each change is made once.

One host (tests/faults/one_host.py); the call exists in the record and the router, as the voice flow leaves
it, not at the emulator: a redirect the service sends for it fails, which ends it (in the record) as a failed
redirect ends a call whose caller has gone.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from unittest import mock

import httpx
import pytest
from sqlalchemy import update

from callrouter.adapters import redis_keys
from callrouter.adapters.sql.call_tables import CallRow
from callrouter.bootstrap import Container, build
from callrouter.config import Settings
from callrouter.domain.calls import CallMove, CallRecord, CallState, EventKind
from callrouter.domain.queueing import Presence
from callrouter.services.calls.reconcile import UNOFFERED_CLAIM_SECONDS
from callrouter.services.calls.routing import RouteAfterReply
from callrouter.services.calls.speech import ms
from callrouter.services.staff.presence import set_presence
from tests.e2e.stack import ACCOUNT_SID, PROFESSIONAL_LINE
from tests.faults.one_host import OneHost

pytestmark = pytest.mark.timeout(180)
WRAP_UP = {"CALLROUTER_WRAP_UP_SECONDS": "5"}


@pytest.fixture(scope="module")
def app(host: OneHost) -> Iterator[Container]:
    """The services in this process, to set a scene and read what the killed process left (not under test)."""
    host.redis.set(redis_keys.live_state_marker(), "1")  # Redis has its live state: no rebuild hides a gap
    with mock.patch.dict(os.environ, host.env, clear=True):
        container = build(Settings())
    yield container
    container.engine.dispose()


def _available(app: Container, code: str, status: Presence = Presence.AVAILABLE) -> int:
    """The liaison available (or `status`), without routing at once (this process is not under test)."""
    liaison = app.directory.liaison_by_code(code)
    assert liaison is not None
    set_presence(dataclasses.replace(app.voice, after=RouteAfterReply()), liaison_id=liaison.id,
                 status=status, organisation_scope=None)
    return liaison.id


def _waiting_call(app: Container, *, org: str, topic: str) -> CallRecord:
    """A call in line as the voice flow leaves it: queued in the record, waiting in the router."""
    sid = "CA" + uuid.uuid4().hex
    calls = app.voice.calls
    start = datetime.now(UTC) - timedelta(seconds=30)
    calls.open_call(CallRecord(sid=sid, line_number=PROFESSIONAL_LINE, line_kind="professional",
                               caller_pseudonym="p", caller_masked="+316****01", state=CallState.MENU,
                               received_at=start, organisation=org, topic=topic, location="AMS"), detail={})
    queued = calls.apply(sid, event=EventKind.QUEUED, at=start + timedelta(seconds=10), move=CallMove.ENQUEUE,
                         detail={"organisation": org, "topic": topic}, topic=topic,
                         queued_at=start + timedelta(seconds=10))
    assert queued is not None and queued.queued_at is not None
    assert app.router.enqueue(call_sid=sid, org=org, topic=topic, klass=queued.priority_class.value,
                              enqueued_at_ms=ms(queued.queued_at))
    return queued


def _kinds(app: Container, sid: str) -> list[EventKind]:
    return [e.kind for e in app.voice.calls.events(sid)]


def _sql_presence(app: Container, liaison_id: int) -> str:
    return next(status for lid, _org, status, _since in app.voice.presence.all() if lid == liaison_id)


def _claim_older_than_the_margin(app: Container, *, liaison_id: int, org: str) -> None:
    since = app.router.liaison_since_ms(liaison_id=liaison_id, org=org)
    assert since is not None
    wait = since / 1000 + UNOFFERED_CLAIM_SECONDS + 0.5 - time.time()
    if wait > 0:
        time.sleep(wait)  # the reconciler's own margin (a claim a moment old may be made an offer yet)


def test_a_dispatch_killed_between_the_claim_and_the_offer_leaves_no_liaison_busy_and_routes_the_call_again(
        host: OneHost, app: Container) -> None:
    sophie = _available(app, "ind-sophie")
    call = _waiting_call(app, org="IND", topic="verblijf")
    host.run_until_paused("workers.jobs.dispatch_organisation", "IND", pause_before="voice.calls.apply")
    # What the kill leaves: Sophie held for the call, which is out of the router's line; the record has it queued.
    assert app.router.call_of_liaison(liaison_id=sophie, org="IND") == call.sid
    assert app.router.position(call_sid=call.sid, org="IND") is None
    assert app.voice.calls.get(call.sid).state == CallState.QUEUED  # type: ignore[union-attr]

    host.run("workers.jobs.reconcile_live_state")  # a run within the margin leaves a fresh claim alone
    assert app.router.call_of_liaison(liaison_id=sophie, org="IND") == call.sid
    _claim_older_than_the_margin(app, liaison_id=sophie, org="IND")
    host.run("workers.jobs.reconcile_live_state")  # the cron's next run: the claim returned, then routed again

    kinds = _kinds(app, call.sid)
    assert kinds.count(EventKind.OFFERED) == 1, kinds  # offered once, to Sophie: the returned claim, routed again
    offered = [e for e in app.voice.calls.events(call.sid) if e.kind == EventKind.OFFERED]
    assert offered[0].detail["liaison"] == sophie
    record = app.voice.calls.get(call.sid)
    # The emulator does not know this call: the redirect to Sophie failed, and that ended it, freeing her.
    assert record is not None and record.state == CallState.ENDED
    assert app.router.liaison_status(liaison_id=sophie, org="IND") == Presence.AVAILABLE
    assert app.router.call_of_liaison(liaison_id=sophie, org="IND") is None


def test_a_dispatch_killed_between_the_offer_and_the_redirect_returns_the_offer_and_routes_the_call_again(
        host: OneHost, app: Container) -> None:
    _available(app, "ind-sophie", Presence.AWAY)  # Tom alone on duty: the one the call is offered to
    tom = _available(app, "ind-tom")
    call = _waiting_call(app, org="IND", topic="naturalisatie")
    host.run_until_paused("workers.jobs.dispatch_organisation", "IND", pause_before="voice.telephony.redirect")
    record = app.voice.calls.get(call.sid)
    assert record is not None and (record.state, record.liaison_id) == (CallState.OFFERED, tom)  # never sent
    assert app.router.call_of_liaison(liaison_id=tom, org="IND") == call.sid

    host.run("workers.jobs.reconcile_live_state")  # within the dial timeout: the offer may still ring
    assert app.router.call_of_liaison(liaison_id=tom, org="IND") == call.sid
    # The dial timeout and the margin pass (50 s here; the reconciler reads the offer's time from the record).
    with app.voice.calls._sessions.begin() as session:  # type: ignore[attr-defined]
        session.execute(update(CallRow).where(CallRow.sid == call.sid)
                        .values(offered_at=CallRow.offered_at - timedelta(seconds=app.voice.reconcile_margin_seconds + 25)))
    host.run("workers.jobs.reconcile_live_state")

    events = app.voice.calls.events(call.sid)
    returned = [e for e in events if e.kind == EventKind.LIAISON_NO_ANSWER]
    assert [e.detail.get("status") for e in returned] == ["lost offer"], [e.kind for e in events]
    offers = [e.detail["liaison"] for e in events if e.kind == EventKind.OFFERED]
    assert offers == [tom, tom], offers  # offered again (the redirect to the emulator, which lacks it, failed)
    assert app.router.liaison_status(liaison_id=tom, org="IND") == Presence.AVAILABLE  # not busy, not away
    assert app.router.call_of_liaison(liaison_id=tom, org="IND") is None


def _offered(app: Container, *, code: str, org: str, topic: str) -> tuple[CallRecord, int]:
    """A call offered to the liaison as the dispatch leaves it: claimed in the router, offered in the record."""
    liaison_id = _available(app, code)
    call = _waiting_call(app, org=org, topic=topic)
    claims = app.router.dispatch(org=org, now_ms=ms(datetime.now(UTC)))
    assert [(c.call_sid, c.liaison_id) for c in claims] == [(call.sid, liaison_id)]
    now = datetime.now(UTC)
    offered = app.voice.calls.apply(call.sid, event=EventKind.OFFERED, at=now, move=CallMove.OFFER,
                                    detail={"liaison": liaison_id}, liaison_id=liaison_id, offered_at=now)
    assert offered is not None
    return offered, liaison_id


def _no_answer(host: OneHost, url: str, call: CallRecord, liaison_id: int):  # type: ignore[no-untyped-def]
    """Twilio's Dial action: the liaison's phone was not answered."""
    return host.post_webhook(url, f"/twilio/voice/dial-result?liaison={liaison_id}", {
        "AccountSid": ACCOUNT_SID, "CallSid": call.sid, "CallStatus": "in-progress", "DialCallStatus": "no-answer"})


def _killed_in_the_return(host: OneHost, call: CallRecord, liaison_id: int) -> None:
    """The web process dies after the record's return, before the router's requeue: the request gets no answer."""
    replies: list[object] = []

    def post(url: str) -> None:
        try:
            replies.append(_no_answer(host, url, call, liaison_id))
        except httpx.HTTPError as exc:
            replies.append(exc)

    point = "voice.router.requeue_after_no_answer"
    with host.web(pause_before=point) as url:
        thread = threading.Thread(target=post, args=(url,), daemon=True)
        thread.start()
        host.paused(point, what="the dial result")
    thread.join(timeout=30)  # leaving the block SIGKILLed the process
    assert replies and isinstance(replies[0], httpx.HTTPError), replies


def _half_returned(app: Container, call: CallRecord, liaison_id: int, org: str) -> None:
    record = app.voice.calls.get(call.sid)
    assert record is not None and record.state == CallState.QUEUED and record.liaison_id is None
    assert app.router.call_of_liaison(liaison_id=liaison_id, org=org) == call.sid  # still held for it
    assert app.router.position(call_sid=call.sid, org=org) is None


def test_a_no_answer_killed_in_the_middle_of_the_return_is_finished_by_the_retried_webhook(
        host: OneHost, app: Container) -> None:
    call, linda = _offered(app, code="cjib-linda", org="CJIB", topic="boetes")
    _killed_in_the_return(host, call, linda)
    _half_returned(app, call, linda, "CJIB")

    with host.web() as url:  # HAProxy sends the same request to the other host
        retried = _no_answer(host, url, call, linda)
        assert retried.status_code == 200, retried.text
        assert "<Enqueue" in retried.text and "<Hangup" not in retried.text, retried.text  # back in line, told so
        assert app.router.liaison_status(liaison_id=linda, org="CJIB") == Presence.AWAY
        assert app.router.call_of_liaison(liaison_id=linda, org="CJIB") is None
        assert _sql_presence(app, linda) == Presence.AWAY.value
        # The caller's next hold turn: in line again, in front (its original place).
        hold = host.post_webhook(url, "/twilio/voice/wait", {"AccountSid": ACCOUNT_SID, "CallSid": call.sid,
                                                             "CallStatus": "in-progress", "QueueTime": "3"})
        assert hold.status_code == 200, hold.text
        place = app.router.position(call_sid=call.sid, org="CJIB")
        assert place is not None and place.position == 1
    assert _kinds(app, call.sid).count(EventKind.LIAISON_NO_ANSWER) == 1


def test_a_no_answer_killed_in_the_middle_of_the_return_is_finished_by_the_reconciler_without_a_retry(
        host: OneHost, app: Container) -> None:
    call, eva = _offered(app, code="duo-eva", org="DUO", topic="studiefinanciering")
    _killed_in_the_return(host, call, eva)  # and the retry failed too (both hosts down): only cron is left
    _half_returned(app, call, eva, "DUO")

    _claim_older_than_the_margin(app, liaison_id=eva, org="DUO")
    host.run("workers.jobs.reconcile_live_state")
    assert app.router.liaison_status(liaison_id=eva, org="DUO") == Presence.AWAY  # she did not answer
    assert app.router.call_of_liaison(liaison_id=eva, org="DUO") is None
    assert _sql_presence(app, eva) == Presence.AWAY.value
    place = app.router.position(call_sid=call.sid, org="DUO")
    assert place is not None and place.position == 1
    assert _kinds(app, call.sid).count(EventKind.LIAISON_NO_ANSWER) == 1
    host.run("workers.jobs.reconcile_live_state")  # nothing more the run after
    assert app.router.liaison_status(liaison_id=eva, org="DUO") == Presence.AWAY


@pytest.mark.parametrize("point", ["voice.router.set_presence", "voice.presence.save"])
def test_an_end_of_wrap_up_killed_mid_job_ends_the_wrap_up_exactly_once(host: OneHost, app: Container,
                                                                         point: str) -> None:
    mieke = app.directory.liaison_by_code("cak-mieke")
    assert mieke is not None
    ended_call = datetime.now(UTC) - timedelta(seconds=10)  # wrap-up (5 s) over: its timer job runs
    app.router.set_presence(liaison_id=mieke.id, org="CAK", topics=mieke.topics, status=Presence.WRAP_UP,
                            now_ms=ms(ended_call))
    app.voice.presence.save(liaison_id=mieke.id, organisation="CAK", status=Presence.WRAP_UP.value, since=ended_call)
    host.run_until_paused("workers.jobs.end_wrap_up", mieke.id, pause_before=point, env=WRAP_UP)

    host.run("workers.jobs.reconcile_live_state", env=WRAP_UP)  # the cron's next run
    assert app.router.liaison_status(liaison_id=mieke.id, org="CAK") == Presence.AVAILABLE
    assert _sql_presence(app, mieke.id) == Presence.AVAILABLE.value  # the record follows the router
    left = app.router.liaison_since_ms(liaison_id=mieke.id, org="CAK")
    assert host.run("workers.jobs.end_wrap_up", mieke.id, env=WRAP_UP) is False  # a second run: nothing
    host.run("workers.jobs.reconcile_live_state", env=WRAP_UP)
    assert app.router.liaison_since_ms(liaison_id=mieke.id, org="CAK") == left  # left wrap-up once, not again
    assert _sql_presence(app, mieke.id) == Presence.AVAILABLE.value
