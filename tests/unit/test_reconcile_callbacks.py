"""A due callback whose job died between the record and the line (scheduled in SQL, unknown to the router):
the reconciler puts it back in line, in its old place, once; one the router knows is left alone."""

from __future__ import annotations

from datetime import timedelta

from callrouter.domain.callbacks import Callback, CallbackState, router_member
from callrouter.domain.queueing import Presence
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.reconcile import reconcile
from tests.fakes import JAN, FakeJobs, make_deps, on_duty


def scheduled_but_not_in_line() -> tuple[CallDeps, Callback]:
    deps = make_deps()
    now = deps.clock.now()
    callback, _ = deps.callbacks.create({
        "state": CallbackState.SCHEDULED, "origin": "closed", "organisation": "UWV", "topic": "ww",
        "priority_class": "pro", "phone_number": "+31612345601", "line_number": "+31850001000",
        "place_at": now - timedelta(minutes=5), "due_at": now, "expires_at": now + timedelta(hours=24),
        "attempts": 0, "max_attempts": 3, "created_at": now - timedelta(minutes=5), "location": "AMS"},
        open_key="cw1:UWV:ww", cause="due")
    return deps, callback


def test_a_scheduled_callback_missing_in_the_router_joins_the_line_once() -> None:
    deps, callback = scheduled_but_not_in_line()
    member = router_member(callback.id)
    assert deps.router.position(call_sid=member, org="UWV") is None
    reconcile(deps, live_state_present=True)
    assert deps.router.position(call_sid=member, org="UWV") is not None
    reconcile(deps, live_state_present=True)
    assert deps.router.waiting_count(org="UWV") == 1
    assert deps.callbacks.get(callback.id).state == CallbackState.SCHEDULED  # type: ignore[union-attr]


def test_an_expired_scheduled_callback_is_not_put_back() -> None:
    deps, callback = scheduled_but_not_in_line()
    deps.clock.moment = deps.clock.now() + timedelta(hours=25)  # type: ignore[attr-defined]
    reconcile(deps, live_state_present=True)
    assert deps.router.position(call_sid=router_member(callback.id), org="UWV") is None
    assert deps.callbacks.get(callback.id).state == CallbackState.EXPIRED  # type: ignore[union-attr]


def test_a_callback_claimed_but_never_given_to_a_worker_is_asked_for_again() -> None:
    deps, callback = scheduled_but_not_in_line()
    on_duty(deps, JAN)
    deps.presence.save(liaison_id=JAN.id, organisation="UWV", status=Presence.AVAILABLE.value, since=deps.clock.now())
    reconcile(deps, live_state_present=True)  # back in line, and dispatched: one attempt job
    jobs = deps.jobs
    assert isinstance(jobs, FakeJobs) and jobs.attempts == [(callback.id, JAN.id)]
    assert deps.router.call_of_liaison(liaison_id=JAN.id, org="UWV") == router_member(callback.id)
    # The process died before its job was enqueued (or the job waits): the next run asks again; the
    # attempt job claims the attempt on the row, so only one of them dials.
    reconcile(deps, live_state_present=True)
    assert jobs.attempts == [(callback.id, JAN.id)] * 2
    assert deps.callbacks.move(callback.id, to=CallbackState.DIALLING, cause="attempt 1 claimed",
                               at=deps.clock.now(), expect=frozenset({CallbackState.SCHEDULED}))
    reconcile(deps, live_state_present=True)
    assert len(jobs.attempts) == 2  # dialling: not asked again


def test_an_attempt_never_placed_goes_back_in_line_and_its_liaison_is_available_not_away() -> None:
    """The worker died after claiming the attempt but before the call went out: the liaison's phone never rang,
    so the reconciler returns the callback to its place and the liaison to available (a no-answer would be away)."""
    deps, callback = scheduled_but_not_in_line()
    on_duty(deps, JAN)
    reconcile(deps, live_state_present=True)  # in line and claimed for Jan: an attempt job
    assert deps.router.call_of_liaison(liaison_id=JAN.id, org="UWV") == router_member(callback.id)
    started = deps.clock.now()
    assert deps.callbacks.move(callback.id, to=CallbackState.DIALLING, cause="attempt 1 claimed", at=started,
                               expect=frozenset({CallbackState.SCHEDULED}), attempts=1, liaison_id=JAN.id,
                               attempt_started_at=started)
    deps.clock.moment = started + timedelta(minutes=5)  # type: ignore[attr-defined]
    deps.router.abandon(call_sid=router_member(callback.id), org="UWV")  # keep it from being dispatched again
    reconcile(deps, live_state_present=True)
    back = deps.callbacks.get(callback.id)
    assert back is not None and back.state == CallbackState.SCHEDULED and back.attempts == 0
    assert [s for lid, _org, s, _at in deps.presence.all() if lid == JAN.id] == [Presence.AVAILABLE.value]
