"""A due callback whose job died between the record and the line (scheduled in SQL, unknown to the router):
the reconciler puts it back in line, in its old place, once; one the router knows is left alone."""

from __future__ import annotations

from datetime import timedelta

from callrouter.domain.callbacks import CallbackState, router_member
from callrouter.services.calls.reconcile import reconcile
from tests.fakes import make_deps


def scheduled_but_not_in_line():  # type: ignore[no-untyped-def]
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
