"""Routing: claim every (call, liaison) pair the router can make for an organisation, and send those calls
to their liaison. Runs after a webhook's reply is sent (RouteAfterReply), from the reconciler and from jobs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from callrouter.domain.call_flow import Goto, LegStatus, Step
from callrouter.domain.callbacks import callback_id_of
from callrouter.domain.calls import CallMove, EventKind
from callrouter.services.calls import flow
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
        callback_id = callback_id_of(claim.call_sid)
        if callback_id is not None:  # a callback's turn: a worker calls the liaison, then the caller
            deps.jobs.start_attempt(callback_id=callback_id, liaison_id=claim.liaison_id)
            continue
        offered = deps.calls.apply(claim.call_sid, event=EventKind.OFFERED, at=now, move=CallMove.OFFER,
                                   detail={"liaison": claim.liaison_id, "waited_ms": claim.waited_ms},
                                   liaison_id=claim.liaison_id, offered_at=now)
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
    return len(claims)


class RouteAfterReply:
    """The AfterReply port: inside `collect()` (one webhook request) organisations to route are kept for
    after the reply; outside it (API, workers) they are routed at once by `route_now`."""

    def __init__(self) -> None:
        self._pending: ContextVar[list[str] | None] = ContextVar("route_after_reply", default=None)
        self._route_now: Callable[[str], object] | None = None

    def bind(self, route_now: Callable[[str], object]) -> None:
        self._route_now = route_now

    def route(self, *, org: str) -> None:
        pending = self._pending.get()
        if pending is not None:
            pending.append(org)
        elif self._route_now is not None:
            self._route_now(org)

    @contextmanager
    def collect(self) -> Iterator[list[str]]:
        pending: list[str] = []
        token = self._pending.set(pending)
        try:
            yield pending
        finally:
            self._pending.reset(token)
