"""The wallboard's "on hold in consultation": the caller counts from the consult's request until the consult is
completed, cancelled, becomes a three-way call, or the caller hangs up (services/calls/consult.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from callrouter.domain.call_flow import LegStatus, RoomEvent, Step
from callrouter.ports.calls import LiveDims, LiveOrgState, LiveWaiting
from callrouter.services.calls import consult, flow
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import StepInput
from callrouter.services.statistics.wallboard import LiveBoard, LiveFilters, read_wallboard
from tests.fakes import JAN, make_deps, ms
from tests.unit.steps.test_consult import SEM_LEG, SID, asked_and_rung, in_conversation, report


class HoldOnlyCounters:
    """The wallboard port, keeping only who is on hold (the counts have tests of their own on a real Redis)."""

    def __init__(self) -> None:
        self.held: dict[str, tuple[LiveDims, int]] = {}

    def count(self, *, call_sid: str, day: date, dims: LiveDims, metrics: Sequence[str],
              waiting_since_ms: int | None = None, left_queue: bool = False) -> int:
        return 0

    def read(self, *, organisations: Sequence[str], day: date) -> list[LiveOrgState]:
        return [LiveOrgState(org, {}, [], [], [(sid, dims, since) for sid, (dims, since) in self.held.items()
                                                if dims[0] == org]) for org in organisations]

    def replace(self, *, organisation: str, day: date, counts: Mapping[LiveDims, Mapping[str, int]],
                waiting: Sequence[LiveWaiting]) -> None:
        return None

    def sync_waiting(self, *, organisation: str, waiting: Sequence[LiveWaiting], before_ms: int) -> tuple[int, int]:
        return 0, 0

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
