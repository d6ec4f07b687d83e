"""Workers killed (SIGKILL to both hosts' RQ workers and their work horses) in the middle of callback
attempts: the REST call that places the liaison's leg is slowed down, and the workers die while it is under
way. After a restart every callback is done exactly once: the caseworker called back once, the liaison's
leg placed once per attempt, no liaison left busy."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from callrouter.adapters.sql.callback_repository import SqlCallbackStore
from callrouter.domain.callbacks import CLOSED, CallbackState
from tests.faults.cluster import FAULT_TIMEOUT_SECONDS, Cluster, wait_until
from tests.faults.traffic import CASEWORKERS, Figures
from twilio_emulator.people import CallerScript, Phone

pytestmark = pytest.mark.timeout(FAULT_TIMEOUT_SECONDS)

UWV = ["uwv-jan", "uwv-ingrid", "uwv-hasan"]
CALLBACK_IN_QUEUE = ["#", "1", "1", "1", "1"]  # no case reference, UWV, WW; then 1: call me back, 1: this number


@pytest.fixture(scope="module")
def killed(cluster_once: Cluster, record_figures_once) -> Figures:  # type: ignore[no-untyped-def]
    cluster = cluster_once
    cluster.ensure_running()
    store = SqlCallbackStore(cluster.sessions)
    before = {c.sid for c in cluster.emulator.calls}
    addresses = {cluster.liaison_address(code): code for code in UWV}
    for address in addresses:
        cluster.emulator.register_phone(address, Phone("answer", answer_after=0.5, talk_seconds=2,
                                                       whisper_digits=["1"]))
    for number in CASEWORKERS:
        cluster.emulator.register_phone(number, Phone("answer", answer_after=0.5, talk_seconds=2))
    for code in UWV:
        cluster.set_presence(code, "away")
    calls = [cluster.emulator.place_call(from_=number, to="+31850001000",
                                         script=CallerScript(digits=list(CALLBACK_IN_QUEUE), record=[2.0]))
             for number in CASEWORKERS]
    wait_until(lambda: all(c.done for c in calls), timeout=90, what="the callers asked for a callback and hung up")
    sids = {c.sid for c in calls}

    def ours() -> list:  # type: ignore[type-arg]
        return [cb for cb in store.in_states(frozenset(CallbackState)) if cb.call_sid in sids]

    assert len(ours()) == len(calls), [c.format() for c in calls]

    cluster.emulator.rest_create_delay = 3.0  # the liaison's leg is placed, its REST answer is slow
    for code in UWV:
        cluster.set_presence(code, "available")
    wait_until(lambda: any(cb.state == CallbackState.DIALLING and cb.attempt_call_sid is None for cb in ours()),
               timeout=30, what="a worker in the middle of an attempt", every=0.05)
    in_flight = sum(1 for cb in ours() if cb.state == CallbackState.DIALLING)
    started = time.monotonic()
    for host in cluster.hosts.values():
        host.kill_worker()
    cluster.emulator.rest_create_delay = 0.0
    for host in cluster.hosts.values():
        host.start_worker()
    wait_until(lambda: all(cb.state in CLOSED for cb in ours()), timeout=120, what="every callback closed",
               every=0.5)
    recover = time.monotonic() - started
    wait_until(lambda: all(c.done for c in cluster.emulator.calls if c.sid not in before), timeout=60,
               what="every leg ended", every=0.5)

    figures = Figures(calls=len(calls), in_flight_at_fault=in_flight, accepted=len(calls))
    final = ours()
    figures.called_back = sum(1 for cb in final if cb.state == CallbackState.COMPLETED)
    figures.other_end = len(final) - figures.called_back
    legs = [c for c in cluster.emulator.calls if c.sid not in before and c.direction == "outbound-api"]
    to_liaisons = [leg for leg in legs if leg.to in addresses]
    # The caseworker's leg is dialled from the liaison's leg: one per callback, never two.
    dialled = Counter(child.to for leg in to_liaisons for child in leg.children)
    figures.double_dials = sum(n - 1 for n in dialled.values() if n > 1)
    figures.double_dials += max(0, len(to_liaisons) - sum(cb.attempts for cb in final))
    figures.lost = sum(1 for number in CASEWORKERS if dialled[number] == 0)
    figures.liaisons_busy_after = sum(1 for code in UWV if cluster.presence(code) != "available")
    figures.recover_s = round(recover, 2)
    figures.notes.update(callbacks={str(cb.id): f"{cb.state} after {cb.attempts} attempt(s)" for cb in final},
                         liaison_legs=len(to_liaisons), caseworkers_dialled=dict(dialled))
    if figures.double_dials or figures.lost:
        figures.problems.append(f"dialled {dict(dialled)}, liaison legs {len(to_liaisons)}")
    record_figures_once("worker killed mid-callback", figures)
    return figures


def test_every_callback_is_done_exactly_once(killed: Figures) -> None:
    assert killed.called_back == killed.calls, killed.notes
    assert killed.lost == 0 and killed.double_dials == 0, killed.problems


def test_no_liaison_stays_busy(killed: Figures) -> None:
    assert killed.liaisons_busy_after == 0, killed
