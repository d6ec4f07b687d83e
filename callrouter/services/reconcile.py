"""The reconciler: keeps Redis's live state in line with the SQL record, run by a worker every few seconds.

- Redis lost its data (restart, flush): rebuild every queue and every liaison's presence from SQL.
- A call claimed for a liaison whose redirect never happened (a process died between the claim
  and the REST call): after the dial timeout and a margin, it goes back to its place in line.
- Time passes: calls become eligible for more liaisons (widening, citizens rising); route them
  even when no Twilio request comes by.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from callrouter.domain.calls import CallState, EventKind
from callrouter.services.live_state import rebuild_live_state
from callrouter.services.queue_flow import dispatch, ms
from callrouter.services.voice import VoiceDeps

log = logging.getLogger("callrouter.reconcile")
STUCK_MARGIN_SECONDS = 30


@dataclass(frozen=True)
class ReconcileReport:
    rebuilt: bool
    returned_offers: int
    dispatched: int


def reconcile(deps: VoiceDeps, *, live_state_present: bool) -> ReconcileReport:
    rebuilt = False
    if not live_state_present:
        report = rebuild_live_state(deps)
        log.warning("live.rebuilt organisations=%s waiting=%s liaisons=%s", report.organisations, report.waiting,
                    report.liaisons)
        rebuilt = True
    now = deps.clock.now()
    limit = now - timedelta(seconds=deps.dial_timeout_seconds + STUCK_MARGIN_SECONDS)
    returned = 0
    open_calls = deps.calls.calls_in_states(frozenset({CallState.QUEUED, CallState.OFFERED}))
    for call in open_calls:
        if call.state != CallState.OFFERED or call.offered_at is None or call.offered_at > limit:
            continue
        back = deps.calls.apply(call.sid, event=EventKind.LIAISON_NO_ANSWER, at=now,
                                detail={"liaison": call.liaison_id, "status": "lost offer"},
                                expect=frozenset({CallState.OFFERED}), state=CallState.QUEUED, liaison_id=None)
        if back is None or not call.organisation or call.queued_at is None:
            continue
        org = call.organisation
        deps.router.abandon(call_sid=call.sid, org=org)  # frees the liaison the claim held
        deps.router.enqueue(call_sid=call.sid, org=org, topic=call.topic or "*", klass=call.priority_class.value,
                            enqueued_at_ms=ms(call.queued_at))
        returned += 1
        log.warning("live.offer_returned call_sid=%s liaison=%s", call.sid, call.liaison_id)
    dispatched = sum(dispatch(deps, org=org) for org in sorted({c.organisation for c in open_calls if c.organisation}))
    return ReconcileReport(rebuilt, returned, dispatched)
