"""Routing: claim every (call, liaison) pair the router can make for an organisation, and send those calls
to their liaison. Runs after a webhook's reply is sent (RouteAfterReply), from the reconciler and from jobs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from callrouter.domain.call_flow import Goto, LegStatus, Step
from callrouter.domain.callbacks import callback_id_of
from callrouter.domain.calls import CallMove, CallRecord, CallState, EventKind, LiaisonTaken
from callrouter.ports.calls import WorkMarks
from callrouter.services.calls import consult, consult_record, flow, holds
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import ms
from callrouter.services.calls.step import StepInput

log = logging.getLogger("callrouter.queue")


def dispatch(deps: CallDeps, *, org: str) -> int:
    """Claim every possible (call, liaison) pair of the organisation and send those calls to the liaison."""
    if not org:
        return 0
    now = deps.clock.now()
    claims = deps.router.dispatch(org=org, now_ms=ms(now))
    for claim in claims:
        if holds.held_in_the_record(deps, claim, now_ms=ms(now)):
            continue
        if consult_record.call_of(claim.call_sid) is not None:  # a consult's turn: ring the claimed liaison into the room
            consult.ring(deps, member=claim.call_sid, liaison_id=claim.liaison_id, org=org)
            continue
        callback_id = callback_id_of(claim.call_sid)
        if callback_id is not None:  # a callback's turn: a worker calls the liaison, then the caller
            deps.jobs.start_attempt(callback_id=callback_id, liaison_id=claim.liaison_id)
            continue
        # The record's moment of the offer is now, after the router's answer and the record's check: a failover can
        # hold the router up for seconds, and the liaison's call before this one may have ended meanwhile.
        at = deps.clock.now()
        try:
            offered = deps.calls.apply(claim.call_sid, event=EventKind.OFFERED, at=at, move=CallMove.OFFER,
                                       detail={"liaison": claim.liaison_id, "waited_ms": claim.waited_ms},
                                       liaison_id=claim.liaison_id, offered_at=at)
        except LiaisonTaken:  # offered another call by another process since the check above
            holds.refused_by_the_record(deps, claim, now_ms=ms(now))
            continue
        if offered is None:  # the call ended meanwhile: give the liaison back
            deps.router.abandon(call_sid=claim.call_sid, org=org)
            continue
        try:
            deps.telephony.redirect(call_sid=claim.call_sid, to=Goto.to(Step.CONNECT, liaison=claim.liaison_id))
            log.info("voice.offered call_sid=%s liaison=%s", claim.call_sid, claim.liaison_id)
        except Exception as exc:  # noqa: BLE001 - any failure: the liaison must not stay reserved
            log.warning("voice.redirect_failed call_sid=%s error=%s", claim.call_sid, type(exc).__name__)
            flow.run(deps, Step.END, StepInput(call_sid=claim.call_sid, record=offered, options=(
                ("leg", LegStatus.FAILED), ("reason", f"redirect failed: {type(exc).__name__}"))))
            continue
        if deps.bridge == "conference":
            ring_liaison(deps, record=offered, liaison_id=claim.liaison_id)
    return len(claims)


def ring_liaison(deps: CallDeps, *, record: CallRecord, liaison_id: int) -> str | None:
    """Place the liaison's leg into the call's room (paced by the Telephony adapter): the whisper, then the room.

    The leg's id is kept on the record (`liaison_rung`), so a caller who hangs up while it rings cancels it.
    A leg that cannot be placed is a failed ring: the call goes back to the front of its line.
    """
    liaison = deps.directory.liaison(liaison_id)
    try:
        if liaison is None:
            raise LookupError(f"liaison {liaison_id} is not in the directory")
        leg = deps.telephony.create_call(
            to=liaison.address, from_=record.line_number, timeout=deps.dial_timeout_seconds,
            answer=Goto.to(Step.WHISPER, call=record.sid, liaison=liaison_id, via="room"),
            status=Goto.to(Step.LIAISON_LEG, call=record.sid, liaison=liaison_id, via="room"))
    except Exception as exc:  # noqa: BLE001 - any failure: back in line, the liaison not left reserved
        log.warning("voice.ring_failed call_sid=%s liaison=%s error=%s", record.sid, liaison_id, type(exc).__name__)
        flow.run(deps, Step.LIAISON_LEG, StepInput(call_sid=record.sid, liaison_id=liaison_id, leg=LegStatus.FAILED,
                                                   choice="room"))
        return None
    rung = deps.calls.apply(record.sid, event=EventKind.LIAISON_RUNG, at=deps.clock.now(),
                            detail={"liaison": liaison_id, "leg": leg}, only_in=frozenset({CallState.OFFERED}))
    if rung is None or rung.liaison_id != liaison_id:  # the caller hung up while the leg was being placed
        deps.telephony.hang_up(call_sid=leg)
    log.info("voice.liaison_rung call_sid=%s liaison=%s leg=%s", record.sid, liaison_id, leg)
    return leg


class RouteAfterReply:
    """The AfterReply port: inside `collect()` (one webhook request) organisations to route are kept for
    after the reply; outside it (API, workers) they are routed at once by `route_now`.

    Routing passes are coalesced per process: a hold turn (`recheck`) asks for one at most every
    `recheck_seconds` per organisation (1,000 waiting callers post about 100 hold turns a second, and a pass
    each starved the process), and `run` keeps at most one pass per organisation in flight, running it once
    more when it was asked for meanwhile, so nothing that freed a liaison or queued a call waits longer
    than the pass in progress. A hold turn that is not routed loses nothing: the pass that the change
    itself asked for, the next hold turn and the reconciler all route the same line.
    """

    def __init__(self, *, recheck_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 marks: WorkMarks | None = None) -> None:
        self._marks = marks  # demo only: the demo clock stands still while a mark is open
        self._pending: ContextVar[list[str] | None] = ContextVar("route_after_reply", default=None)
        self._route_now: Callable[[str], object] | None = None
        self._recheck_seconds, self._clock = recheck_seconds, clock
        self._lock = threading.Lock()
        self._last_asked: dict[str, float] = {}  # organisation -> when a pass was last asked for
        self._running: set[str] = set()
        self._again: set[str] = set()  # asked for while a pass of the organisation was running

    def bind(self, route_now: Callable[[str], object]) -> None:
        self._route_now = route_now

    def route(self, *, org: str) -> None:
        with self._lock:
            self._last_asked[org] = self._clock()
        pending = self._pending.get()
        if pending is not None:
            pending.append(org)
        elif self._route_now is not None:
            self.run(org, self._route_now)

    def recheck(self, *, org: str) -> None:
        with self._lock:
            last = self._last_asked.get(org)
            if last is not None and self._clock() - last < self._recheck_seconds:
                return
        self.route(org=org)

    def run(self, org: str, route: Callable[[str], object]) -> None:
        """Route the organisation now, unless a pass of it is in flight: that one then runs once more."""
        with self._lock:
            if org in self._running:
                self._again.add(org)
                return
            self._running.add(org)
        try:
            while True:
                route(org)
                with self._lock:  # the check and the end of the pass under one lock: no request is lost between
                    if org not in self._again:
                        self._running.discard(org)
                        return
                    self._again.discard(org)
        except BaseException:
            with self._lock:
                self._running.discard(org)
            raise

    def begin_work(self) -> str | None:
        """Before a reply with routing to do after it is sent: a mark (demo only), or None."""
        if self._marks is None:
            return None
        try:
            return self._marks.begin()
        except Exception:  # noqa: BLE001 - a demo clock that runs on is better than a webhook that fails
            log.exception("demo.work_mark_failed")
            return None

    def end_work(self, mark: str | None) -> None:
        if mark is None or self._marks is None:
            return
        try:
            self._marks.end(mark)
        except Exception:  # noqa: BLE001 - the mark lapses by itself
            log.exception("demo.work_mark_failed")

    @contextmanager
    def collect(self) -> Iterator[list[str]]:
        pending: list[str] = []
        token = self._pending.set(pending)
        try:
            yield pending
        finally:
            self._pending.reset(token)
