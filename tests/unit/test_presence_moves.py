"""Who may move a liaison's presence where (domain.presence), and the services that follow the table."""

from __future__ import annotations

import pytest

from callrouter.domain.presence import PRESENCE_MOVES, Actor, may_move
from callrouter.domain.queueing import Presence as P
from callrouter.services.errors import Conflict
from callrouter.services.staff import presence
from tests.fakes import FakeClock, make_deps


@pytest.mark.parametrize("actor", [Actor.LIAISON, Actor.SUPERVISOR])
def test_people_choose_any_state_but_busy_and_never_while_busy(actor: Actor) -> None:
    for source in P:
        for target in P:
            allowed = source != P.BUSY and target != P.BUSY
            assert may_move(actor, source, target) is allowed, (source, target)


def test_only_the_router_makes_a_liaison_busy_and_frees_them() -> None:
    assert may_move(Actor.ROUTER, P.AVAILABLE, P.BUSY)
    assert not may_move(Actor.ROUTER, P.AWAY, P.BUSY) and not may_move(Actor.ROUTER, P.OFFLINE, P.BUSY)
    assert {t for t in P if may_move(Actor.ROUTER, P.BUSY, t)} == {P.AVAILABLE, P.WRAP_UP, P.AWAY}
    assert all(not may_move(actor, s, P.BUSY) for actor in Actor if actor != Actor.ROUTER for s in P)


def test_the_timer_only_ends_a_wrap_up() -> None:
    assert [(s, t) for s in P for t in P if may_move(Actor.TIMER, s, t)] == [(P.WRAP_UP, P.AVAILABLE)]


def test_no_presence_yet_counts_as_offline() -> None:
    assert may_move(Actor.LIAISON, None, P.AVAILABLE) and not may_move(Actor.TIMER, None, P.AVAILABLE)
    assert set(PRESENCE_MOVES) == set(Actor)


def test_the_timer_ends_a_wrap_up_but_not_a_state_the_liaison_chose_since() -> None:
    deps = make_deps(wrap_up_seconds=30)
    liaison = next(iter(deps.directory.liaisons_of("UWV")))
    presence.set_presence(deps, liaison_id=liaison.id, status=P.WRAP_UP, organisation_scope=None)
    assert presence.end_wrap_up(deps, liaison_id=liaison.id)
    assert deps.router.liaison_status(liaison_id=liaison.id, org="UWV") == P.AVAILABLE
    presence.set_presence(deps, liaison_id=liaison.id, status=P.AWAY, organisation_scope=None)
    assert not presence.end_wrap_up(deps, liaison_id=liaison.id)  # the liaison chose away meanwhile
    assert deps.router.liaison_status(liaison_id=liaison.id, org="UWV") == P.AWAY


def test_a_liaison_cannot_set_busy() -> None:
    deps = make_deps()
    liaison = next(iter(deps.directory.liaisons_of("UWV")))
    with pytest.raises((Conflict, ValueError)):
        presence.set_presence(deps, liaison_id=liaison.id, status=P.BUSY, organisation_scope=None)


def test_the_reconciler_ends_overdue_wrap_ups_whose_timer_was_lost() -> None:
    deps = make_deps(wrap_up_seconds=30)
    clock = deps.clock
    assert isinstance(clock, FakeClock)
    first, second = list(deps.directory.liaisons_of("UWV"))[:2]
    presence.set_presence(deps, liaison_id=first.id, status=P.WRAP_UP, organisation_scope=None)
    clock.advance(20)
    presence.set_presence(deps, liaison_id=second.id, status=P.WRAP_UP, organisation_scope=None)
    clock.advance(15)  # the first's wrap-up is 35 s old, the second's 15 s
    assert presence.end_overdue_wrap_ups(deps) == 1
    assert deps.router.liaison_status(liaison_id=first.id, org="UWV") == P.AVAILABLE
    assert deps.router.liaison_status(liaison_id=second.id, org="UWV") == P.WRAP_UP


def test_without_wrap_up_after_calls_a_chosen_wrap_up_lasts() -> None:
    deps = make_deps(wrap_up_seconds=0)
    liaison = next(iter(deps.directory.liaisons_of("UWV")))
    presence.set_presence(deps, liaison_id=liaison.id, status=P.WRAP_UP, organisation_scope=None)
    assert presence.end_overdue_wrap_ups(deps) == 0


def test_a_wrap_up_the_router_ended_but_the_record_did_not_is_recorded_not_ended_again() -> None:
    """The end-of-wrap-up job died between the router's move and the record's (a SIGKILL)."""
    deps = make_deps(wrap_up_seconds=30)
    clock = deps.clock
    assert isinstance(clock, FakeClock)
    liaison = next(iter(deps.directory.liaisons_of("UWV")))
    presence.set_presence(deps, liaison_id=liaison.id, status=P.WRAP_UP, organisation_scope=None)
    clock.advance(40)
    deps.router.set_presence(liaison_id=liaison.id, org="UWV", topics=liaison.topics, status=P.AVAILABLE,
                             now_ms=int(clock.now().timestamp() * 1000), only_from=P.WRAP_UP)
    since = deps.router.liaison_since_ms(liaison_id=liaison.id, org="UWV")
    assert presence.end_overdue_wrap_ups(deps) == 0  # not ended twice
    saved = {lid: status for lid, _org, status, _since in deps.presence.all()}
    assert saved[liaison.id] == P.AVAILABLE.value
    assert deps.router.liaison_since_ms(liaison_id=liaison.id, org="UWV") == since
