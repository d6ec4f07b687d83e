"""The wallboard's "on hold in consultation": the caller counts from the consult's request until the consult is
completed, cancelled, becomes a three-way call, or the caller hangs up (services/calls/consult.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from callrouter.domain.call_flow import LegStatus, RoomEvent, Step
from callrouter.ports.calls import LiveDims, LiveOrgState, LiveWaiting
from callrouter.services.calls import consult, flow, live_state
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import StepInput
from callrouter.services.statistics.wallboard import LiveBoard, LiveFilters, read_wallboard
from tests.fakes import JAN, make_deps, ms
from tests.unit.steps.test_consult import SEM_LEG, SID, asked_and_rung, in_conversation, report


class HoldOnlyCounters:
    """The wallboard port: who is on hold, and which metrics were counted (the Redis side has tests of its own)."""

    def __init__(self) -> None:
        self.held: dict[str, tuple[LiveDims, int]] = {}
        self.counted: set[tuple[str, str, str]] = set()  # organisation, call, metric: once each, as in Redis

    def count(self, *, call_sid: str, day: date, dims: LiveDims, metrics: Sequence[str],
              waiting_since_ms: int | None = None, left_queue: bool = False) -> int:
        new = {(dims[0], call_sid, metric) for metric in metrics} - self.counted
        self.counted |= new
        return len(new)

    def read(self, *, organisations: Sequence[str], day: date) -> list[LiveOrgState]:
        return [LiveOrgState(org, {}, [], [], [(sid, dims, since) for sid, (dims, since) in self.held.items()
                                                if dims[0] == org]) for org in organisations]

    def replace(self, *, organisation: str, day: date, counts: Mapping[LiveDims, Mapping[str, int]],
                waiting: Sequence[LiveWaiting]) -> None:
        return None

    def sync_waiting(self, *, organisation: str, waiting: Sequence[LiveWaiting], before_ms: int) -> tuple[int, int]:
        return 0, 0

    def clear_on_hold(self, *, organisation: str) -> None:
        self.held = {sid: held for sid, held in self.held.items() if held[0][0] != organisation}

    def hold(self, *, call_sid: str, dims: LiveDims, since_ms: int | None) -> None:
        if since_ms is None:
            self.held.pop(call_sid, None)
        else:
            self.held[call_sid] = (dims, since_ms)


def with_board() -> tuple[CallDeps, HoldOnlyCounters]:
    counters = HoldOnlyCounters()
    deps = make_deps(bridge="conference", live=LiveBoard(counters=counters))
    in_conversation(deps)
    return deps, counters


def test_the_caller_is_on_hold_from_the_request_and_off_when_the_consult_completes() -> None:
    deps, counters = with_board()
    asked_at = deps.clock.now()
    asked_and_rung(deps)
    assert counters.held == {SID: (("UWV", "ww", "AMS", "professional"), ms(asked_at))}
    deps.clock.advance(40)  # type: ignore[attr-defined]
    board = read_wallboard(deps.live, deps.directory, now=deps.clock.now(), organisations=["UWV", "SVB"],  # type: ignore[arg-type]
                           filters=LiveFilters())
    assert (board.totals.on_hold, board.totals.longest_hold_seconds(deps.clock.now())) == (1, 40.0)
    assert board.totals.waiting == 0  # on hold is not waiting in a line
    report(deps, RoomEvent.JOINED, SEM_LEG, 5)
    assert SID in counters.held  # the liaisons talk; the caller still holds
    consult.complete(deps, liaison_id=JAN.id, call_sid=SID)
    assert counters.held == {}


def test_cancel_and_three_way_take_the_caller_off_hold() -> None:
    deps, counters = with_board()
    asked_and_rung(deps)
    consult.cancel(deps, liaison_id=JAN.id, call_sid=SID)
    assert counters.held == {}
    deps, counters = with_board()
    asked_and_rung(deps)
    report(deps, RoomEvent.JOINED, SEM_LEG, 5)
    consult.three_way(deps, liaison_id=JAN.id, call_sid=SID)
    assert counters.held == {}


def test_a_caller_who_hangs_up_on_hold_is_on_hold_no_more() -> None:
    deps, counters = with_board()
    asked_and_rung(deps)
    flow.run(deps, Step.STATUS, StepInput(call_sid=SID, leg=LegStatus.COMPLETED, sequence=9))
    assert counters.held == {}


def test_the_consulted_organisation_counts_the_call_offered_and_answered_within_t_from_the_request() -> None:
    deps, counters = with_board()
    asked_and_rung(deps)
    deps.clock.advance(30)  # type: ignore[attr-defined]
    report(deps, RoomEvent.JOINED, SEM_LEG, 5)
    consult.complete(deps, liaison_id=JAN.id, call_sid=SID)
    svb = {metric for org, sid, metric in counters.counted if org == "SVB" and sid == SID}
    assert svb == {"offered", "answered"}  # 30 s from the request to Sem joining: not within 20 s


def test_a_three_way_call_completed_later_counts_the_other_organisation_once() -> None:
    deps, counters = with_board()
    asked_and_rung(deps)
    report(deps, RoomEvent.JOINED, SEM_LEG, 5)
    consult.three_way(deps, liaison_id=JAN.id, call_sid=SID)
    svb = {metric for org, sid, metric in counters.counted if org == "SVB"}
    assert svb == {"offered", "answered", "answered_within"}  # Sem joined at once
    before = set(counters.counted)
    consult.complete(deps, liaison_id=JAN.id, call_sid=SID)
    assert {c for c in counters.counted - before if c[0] == "SVB"} == set()


def test_callers_on_hold_are_rebuilt_from_sql_after_redis_lost_them() -> None:
    deps, counters = with_board()
    asked_at = deps.clock.now()
    asked_and_rung(deps)
    counters.held.clear()  # Redis lost its data
    deps.clock.advance(60)  # type: ignore[attr-defined]
    live_state.rebuild_live_counters(deps)
    assert counters.held == {SID: (("UWV", "ww", "AMS", "professional"), ms(asked_at))}  # since the request
    consult.cancel(deps, liaison_id=JAN.id, call_sid=SID)
    counters.held[SID] = (("UWV", "ww", "AMS", "professional"), 1)  # a lost write left it behind
    live_state.rebuild_live_counters(deps)
    assert counters.held == {}  # no consult going on: the rebuild drops it
