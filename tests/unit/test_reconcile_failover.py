"""After a Redis failover lost writes, and after status reports were lost while the database was away: the
reconciler and the dispatch put the router back in line with the record, and never give a liaison two calls."""

from __future__ import annotations

from datetime import timedelta

from callrouter.domain.call_flow import LegStatus
from callrouter.domain.calls import CallRecord, CallState, EventKind
from callrouter.domain.queueing import CallClass, Presence
from callrouter.ports.calls import NetworkLeg
from callrouter.services.calls.reconcile import end_calls_ended_at_the_network, restore_liaison_holds
from callrouter.services.calls.routing import dispatch
from callrouter.services.calls.speech import ms
from tests.fakes import JAN, fakes, make_deps, on_duty, seed_call

TALKING = "CA" + "1" * 32  # connected to Jan in the record; the router lost that claim
WAITING = "CA" + "2" * 32


def lost_claim():  # type: ignore[no-untyped-def]
    """The record: Jan talks with TALKING. The new Redis primary: Jan available, TALKING unknown."""
    deps = make_deps()
    on_duty(deps, JAN)
    deps.presence.save(liaison_id=JAN.id, organisation="UWV", status=Presence.BUSY.value, since=deps.clock.now())
    seed_call(deps, TALKING, state=CallState.CONNECTED, organisation="UWV", topic="ww", liaison_id=JAN.id,
              queued_at=deps.clock.now() - timedelta(seconds=90))
    return deps


def test_a_lost_claim_is_made_again_once() -> None:
    deps = lost_claim()
    assert restore_liaison_holds(deps) == {"UWV"}
    assert deps.router.call_of_liaison(liaison_id=JAN.id, org="UWV") == TALKING
    assert deps.router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.BUSY
    assert deps.router.waiting_count(org="UWV") == 0  # held, not waiting
    assert restore_liaison_holds(deps) == set()


def test_the_dispatch_never_gives_a_liaison_the_record_holds_a_second_call() -> None:
    deps = lost_claim()
    queued_at = deps.clock.now() - timedelta(seconds=30)
    seed_call(deps, WAITING, state=CallState.QUEUED, organisation="UWV", topic="ww", queued_at=queued_at)
    deps.router.enqueue(call_sid=WAITING, org="UWV", topic="ww", klass=CallClass.PRO, enqueued_at_ms=ms(queued_at))

    assert dispatch(deps, org="UWV") == 1  # the router made the pair ...
    assert fakes(deps).telephony.redirects == []  # ... and it was refused: nothing sent to Jan
    waiting = deps.calls.get(WAITING)
    assert waiting is not None and waiting.state == CallState.QUEUED and waiting.liaison_id is None
    place = deps.router.position(call_sid=WAITING, org="UWV")
    assert place is not None and place.position == 1  # back in line
    assert deps.router.call_of_liaison(liaison_id=JAN.id, org="UWV") == TALKING  # Jan held for his call
    assert dispatch(deps, org="UWV") == 0


def test_a_call_the_network_ended_is_ended_at_the_networks_time_and_frees_its_liaison() -> None:
    deps = lost_claim()
    restore_liaison_holds(deps)
    ended_at = deps.clock.now() + timedelta(seconds=5)
    deps.clock.advance(60)
    fakes(deps).telephony.network[TALKING] = NetworkLeg(LegStatus.COMPLETED, ended_at)
    assert end_calls_ended_at_the_network(deps) == {"UWV"}
    record = deps.calls.get(TALKING)
    assert record is not None and record.state == CallState.ENDED and record.ended_at == ended_at
    assert deps.router.call_of_liaison(liaison_id=JAN.id, org="UWV") is None
    assert end_calls_ended_at_the_network(deps) == set()


def test_calls_going_on_at_the_network_and_young_calls_are_left_alone() -> None:
    deps = make_deps()
    seed_call(deps, TALKING, state=CallState.QUEUED, organisation="UWV", topic="ww", queued_at=deps.clock.now())
    fakes(deps).telephony.network[TALKING] = NetworkLeg(LegStatus.COMPLETED)
    assert end_calls_ended_at_the_network(deps) == set()  # too young to ask about
    deps.clock.advance(60)
    fakes(deps).telephony.network[TALKING] = NetworkLeg(LegStatus.ANSWERED)  # in a queue, on hold
    assert end_calls_ended_at_the_network(deps) == set()
    record = deps.calls.get(TALKING)
    assert record is not None and record.state == CallState.QUEUED


def test_an_offer_the_record_refuses_after_a_check_that_came_too_early_is_undone_like_a_refused_claim() -> None:
    """Two processes after a failover: this one's check of the record read Jan free a moment before the other's
    offer of TALKING committed. The record itself refuses the second call (LiaisonTaken): nothing is sent to Jan,
    WAITING is back at its place, and the router holds Jan for the call the record names."""
    deps = lost_claim()
    queued_at = deps.clock.now() - timedelta(seconds=30)
    seed_call(deps, WAITING, state=CallState.QUEUED, organisation="UWV", topic="ww", queued_at=queued_at)
    deps.router.enqueue(call_sid=WAITING, org="UWV", topic="ww", klass=CallClass.PRO, enqueued_at_ms=ms(queued_at))
    store = fakes(deps).calls
    reads = {"early": 1}
    holding = store.calls_holding

    def read_before_the_other_commit(liaison_id: int) -> list[CallRecord]:
        if reads["early"]:
            reads["early"] -= 1
            return []
        return holding(liaison_id)

    store.calls_holding = read_before_the_other_commit  # type: ignore[method-assign]
    assert dispatch(deps, org="UWV") == 1
    assert fakes(deps).telephony.redirects == []
    waiting = deps.calls.get(WAITING)
    assert waiting is not None and waiting.state == CallState.QUEUED and waiting.liaison_id is None
    assert EventKind.OFFERED not in store.kinds(WAITING)
    place = deps.router.position(call_sid=WAITING, org="UWV")
    assert place is not None and place.position == 1
    assert deps.router.call_of_liaison(liaison_id=JAN.id, org="UWV") == TALKING
    assert dispatch(deps, org="UWV") == 0
