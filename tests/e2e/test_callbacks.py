"""Callbacks end to end: the Twilio emulator, the app in two processes, a real RQ worker, Redis and SQLite.

Exactly once is counted in dials the emulator saw.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rq import Queue

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.callback_repository import SqlCallbackStore
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.domain.callbacks import CallbackState
from tests.e2e.stack import Stack, running_stack
from tests.e2e.test_professional_line import bridged_at
from twilio_emulator.driver import CallHandle
from twilio_emulator.people import Phone

SANNE = "+31612345601"  # caseworker, Amsterdam; her phone is called back
MOHAMED = "+31612345602"
UWV_WW = ["#", "1", "1"]  # no case reference (#), UWV, WW
JAN = "client:uwv-jan"


@pytest.fixture(scope="module")
def cb_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir: Path = tmp_path_factory.mktemp("callbacks")
    settings = {"CALLROUTER_CALLBACK_RETRY_DELAY_SECONDS": "2", "CALLROUTER_CALLBACK_MAX_ATTEMPTS": "2"}
    with running_stack(redis_url=redis_url, database_url=f"sqlite:///{workdir / 'cb.sqlite3'}", workdir=workdir,
                       settings=settings) as stack:
        yield stack


@pytest.fixture()
def cb(cb_stack: Stack, redis) -> Iterator[Stack]:  # noqa: ANN001 - flushed Redis per test
    yield cb_stack
    for proc in list(cb_stack.workers):
        cb_stack.kill_worker(proc)
    cb_stack.emulator.wait_until_idle(timeout=30)


def store(stack: Stack) -> SqlCallbackStore:
    return SqlCallbackStore(make_session_factory(make_engine(stack.database_url)))


def wait_until(predicate, timeout: float = 60, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def ask_callback_in_queue(stack: Stack, *, caller: str = SANNE) -> CallHandle:
    """Menu to UWV/WW, wait, key 1 for a callback, keep the own number, speak a 2 s message."""
    call = stack.call(from_=caller, digits=[*UWV_WW, "1", "1"], record=[2.0])
    call.wait_until_ended(timeout=60)
    assert not call.events("application_error"), call.format()
    return call


def open_callbacks(stack: Stack) -> list:  # type: ignore[type-arg]
    return store(stack).in_states(frozenset(CallbackState))


def test_an_in_queue_callback_keeps_its_place_and_goes_before_later_callers(cb: Stack) -> None:
    cb.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=2, whisper_digits=["1"]))
    cb.emulator.register_phone(SANNE, Phone("answer", answer_after=0.5, talk_seconds=2))
    cb.set_presence("uwv-jan", "away")
    first = ask_callback_in_queue(cb)
    said = " ".join(first.said())
    assert "Liever teruggebeld worden" in said or "Bellen we u terug" in said
    assert "We bellen u terug" in said
    [callback] = [c for c in open_callbacks(cb) if c.call_sid == first.sid]
    assert callback.state == CallbackState.SCHEDULED and callback.voice_message_url
    later = cb.call(from_=MOHAMED, digits=UWV_WW)
    later.wait_for_event("enqueued", timeout=30)

    cb.start_worker()
    dials_before = cb.emulator.dials_to(SANNE)
    assert cb.set_presence("uwv-jan", "available").status_code == 200
    done = wait_until(lambda: (x := store(cb).get(callback.id)) and x.state == CallbackState.COMPLETED and x,
                      what="the callback to complete")
    assert done.attempts == 1
    later.wait_until_ended(timeout=90)
    liaison_leg = next(c for c in cb.emulator.calls if c.direction == "outbound-api" and c.to == JAN)
    heard = " ".join(liaison_leg.said())
    # The liaison presses 1 at once (barge-in), so the voice message may be cut short in the emulator.
    assert "Terugbelverzoek. Loket Amsterdam. UWV, WW-uitkering." in heard
    callback_bridge = liaison_leg.events("bridged")[0].t
    later_bridge = bridged_at(later)  # the later caller is routed (a room on the default bridge)
    assert later_bridge is not None and later_bridge > callback_bridge
    assert cb.emulator.dials_to(SANNE) == dials_before + 1
    # The conversation is a call row of its own: the liaison's leg, with its talk time and the callback.
    conversation = wait_until(lambda: SqlCallStore(make_session_factory(make_engine(cb.database_url)))
                              .get(liaison_leg.sid), what="the callback's conversation row")
    assert (conversation.callback_id, conversation.organisation, conversation.topic, conversation.outcome) == (
        callback.id, "UWV", "ww", "answered")
    assert conversation.ended_at is not None and conversation.answered_at is not None
    assert 0 < (conversation.ended_at - conversation.answered_at).total_seconds() < 60


def test_a_caller_who_does_not_answer_is_retried_then_the_callback_fails(cb: Stack) -> None:
    cb.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=2, whisper_digits=["1"]))
    cb.emulator.register_phone(SANNE, Phone("busy"))
    cb.set_presence("uwv-jan", "away")
    first = ask_callback_in_queue(cb)
    [callback] = [c for c in open_callbacks(cb) if c.call_sid == first.sid]
    dials_before = cb.emulator.dials_to(SANNE)
    cb.start_worker()
    cb.set_presence("uwv-jan", "available")
    failed = wait_until(lambda: (x := store(cb).get(callback.id)) and x.state == CallbackState.FAILED and x,
                        what="the callback to fail")
    assert failed.attempts == 2
    assert cb.emulator.dials_to(SANNE) == dials_before + 2
    moves = [e.to_state for e in store(cb).events(callback.id)]
    assert moves.count(CallbackState.DIALLING) >= 2 and CallbackState.RETRY in moves


def test_the_same_job_run_twice_dials_once(cb: Stack, redis) -> None:  # noqa: ANN001
    cb.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=2, whisper_digits=["1"]))
    cb.emulator.register_phone(SANNE, Phone("answer", answer_after=0.5, talk_seconds=1))
    cb.set_presence("uwv-jan", "away")
    first = ask_callback_in_queue(cb)
    [callback] = [c for c in open_callbacks(cb) if c.call_sid == first.sid]
    jan_before = cb.emulator.dials_to(JAN)
    cb.set_presence("uwv-jan", "available")  # the router claims: the attempt job is queued, no worker yet
    queue = Queue("callrouter", connection=redis)
    wait_until(lambda: queue.count >= 1, what="the attempt job")
    [job] = queue.get_jobs()
    queue.enqueue(job.func_name, *job.args)  # the same job a second time
    cb.start_worker()
    wait_until(lambda: (x := store(cb).get(callback.id)) and x.state == CallbackState.COMPLETED, what="completion")
    time.sleep(1)
    assert cb.emulator.dials_to(JAN) == jan_before + 1


def test_a_flushed_redis_loses_no_callback_and_dials_once(cb: Stack, redis) -> None:  # noqa: ANN001
    cb.phone("uwv-jan", Phone("answer", answer_after=0.5, talk_seconds=2, whisper_digits=["1"]))
    cb.emulator.register_phone(SANNE, Phone("answer", answer_after=0.5, talk_seconds=1))
    cb.set_presence("uwv-jan", "away")
    first = ask_callback_in_queue(cb)
    [callback] = [c for c in open_callbacks(cb) if c.call_sid == first.sid]
    sanne_before = cb.emulator.dials_to(SANNE)
    redis.flushdb()  # queues, presence, scheduled jobs: all gone
    queue = Queue("callrouter", connection=redis)
    queue.enqueue("workers.jobs.reconcile_live_state")
    cb.start_worker()
    wait_until(lambda: queue.count == 0, what="the reconciler")
    assert cb.set_presence("uwv-jan", "available").status_code == 200
    wait_until(lambda: (x := store(cb).get(callback.id)) and x.state == CallbackState.COMPLETED, what="completion")
    time.sleep(1)
    assert cb.emulator.dials_to(SANNE) == sanne_before + 1


def test_a_worker_killed_in_the_middle_of_a_callback_never_dials_twice(cb: Stack, redis) -> None:  # noqa: ANN001
    """The worker dies while Twilio is placing the liaison's call (its REST answer never arrives).
    The reconciler and a new worker must finish the callback without a second dial."""
    cb.phone("uwv-jan", Phone("answer", answer_after=3, talk_seconds=2, whisper_digits=["1"]))
    cb.emulator.register_phone(SANNE, Phone("answer", answer_after=0.5, talk_seconds=1))
    cb.set_presence("uwv-jan", "away")
    first = ask_callback_in_queue(cb)
    [callback] = [c for c in open_callbacks(cb) if c.call_sid == first.sid]
    jan_before, sanne_before = cb.emulator.dials_to(JAN), cb.emulator.dials_to(SANNE)
    cb.emulator.rest_create_delay = 5.0
    try:
        worker = cb.start_worker()
        cb.set_presence("uwv-jan", "available")
        wait_until(lambda: cb.emulator.dials_to(JAN) > jan_before, what="the liaison's phone to ring")
        cb.kill_worker(worker)  # mid-job: the call is placed, the worker never learns its sid
    finally:
        cb.emulator.rest_create_delay = 0.0
    queue = Queue("callrouter", connection=redis)
    cb.start_worker()
    for _ in range(3):  # the reconciler runs every 10 s in production; here a few times in a row
        queue.enqueue("workers.jobs.reconcile_live_state")
    wait_until(lambda: (x := store(cb).get(callback.id)) and x.state == CallbackState.COMPLETED,
               what="the callback to complete after the crash")
    queue.enqueue("workers.jobs.reconcile_live_state")
    time.sleep(2)
    assert cb.emulator.dials_to(JAN) == jan_before + 1
    assert cb.emulator.dials_to(SANNE) == sanne_before + 1
