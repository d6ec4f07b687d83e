"""The reconciler: keeps Redis's live state in line with the SQL record, run by a worker every few seconds.

- Redis lost its data (restart, flush): rebuild every queue and every liaison's presence from SQL.
- A call claimed for a liaison whose redirect never happened (a process died between the claim
  and the REST call): after the dial timeout and a margin, it goes back to its place in line. On the
  conference bridge its liaison's leg is cancelled and the caller redirected out of the room.
- A liaison the router still holds for a call that has ended (the release was lost): available again.
- A wrap-up whose timer was lost (the process that scheduled it died): it ends when its time is up.
- A liaison the router has held for a while for a call the record still has waiting in line: the claim never
  became an offer (the process died between the router's claim and the record's offer, or the database refused
  that write), or the return of an unanswered offer stopped between the record and the router. The call goes
  back to its place in line; the liaison is available again, or away when they did not answer.
- A liaison the record says is offered or connected to a call, but whom the router holds for nothing or for
  another call (a claim lost in a Redis failover): held for that call again (holds.restore_hold).
- A call the record keeps open, but which has ended at the network (its status report was lost: the
  database was restarting, both web machines were out): ended as the report would have ended it.
- A callback scheduled in the record but missing in the router (the worker that made it due died between
  the two): in line again, in its old place.
- A liaison the router holds for a callback the record still has scheduled (the process that claimed them
  died before the attempt job was enqueued): the attempt job is enqueued again; the row's claim makes it
  dial at most once.
- A blind transfer the process died in (after the record moved the call to the other organisation, before the
  first liaison was released or the caller redirected): the liaison is released and the caller redirected
  to the transfer's message and the new line, once the call has sat outside every line for a while.
- A consult nobody was claimed for within `consult_wait_seconds`: ended as "nobody free".
- Time passes: calls become eligible for more liaisons (widening, citizens rising); route them
  even when no Twilio request comes by.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.callbacks import OPEN, CallbackState, callback_id_of, router_member
from callrouter.domain.calls import ANY_TOPIC, OPEN_STATES, CallMove, CallRecord, CallState, EventKind
from callrouter.domain.queueing import Presence
from callrouter.services.callbacks.lifecycle import ATTEMPT_LOST_AFTER, back_in_line, make_due, rejoin_line
from callrouter.services.calls import consult, consult_record, room
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.holds import restore_hold
from callrouter.services.calls.live_state import rebuild_live_state, sync_live_waiting
from callrouter.services.calls.routing import dispatch
from callrouter.services.calls.speech import ms
from callrouter.services.calls.steps.connected import returned_from
from callrouter.services.calls.steps.end import end_call
from callrouter.services.calls.transfer import release_after_conversation
from callrouter.services.staff import presence

log = logging.getLogger("callrouter.reconcile")
# A claim is made an offer in the record within milliseconds; one still not offered after this was abandoned.
UNOFFERED_CLAIM_SECONDS = 10
# A call the record keeps open is asked about at the network once it is this old; at most this many a run
# (a different slice each run), so hundreds of waiting calls cost a bounded number of REST requests.
NETWORK_CHECK_AFTER_SECONDS = 20
NETWORK_CHECKS_PER_RUN = 60
# A blind transfer whose caller has not reached the new line this long after the record moved it was cut off
# (the caller hears "U wordt doorverbonden" within a few seconds of the redirect, then joins the line).
TRANSFER_REPAIR_AFTER_SECONDS = 15


@dataclass(frozen=True)
class ReconcileReport:
    rebuilt: bool
    returned_offers: int
    dispatched: int


def reconcile(deps: CallDeps, *, live_state_present: bool) -> ReconcileReport:
    rebuilt = False
    if not live_state_present:
        report = rebuild_live_state(deps)
        log.warning("live.rebuilt organisations=%s waiting=%s liaisons=%s", report.organisations, report.waiting,
                    report.liaisons)
        rebuilt = True
    now = deps.clock.now()
    limit = now - timedelta(seconds=deps.dial_timeout_seconds + deps.reconcile_margin_seconds)
    returned = 0
    open_calls = deps.calls.calls_in_states(frozenset({CallState.QUEUED, CallState.OFFERED}))
    sync_live_waiting(deps, open_calls=open_calls, read_at=now)
    for call in open_calls:
        if call.state != CallState.OFFERED or call.offered_at is None or call.offered_at > limit:
            continue
        back = deps.calls.apply(call.sid, event=EventKind.LIAISON_NO_ANSWER, at=now,
                                detail={"liaison": call.liaison_id, "status": "lost offer"},
                                move=CallMove.RETURN, only_in=frozenset({CallState.OFFERED}), liaison_id=None)
        if back is None or not call.organisation or call.queued_at is None:
            continue
        org = call.organisation
        deps.router.abandon(call_sid=call.sid, org=org)  # frees the liaison the claim held
        deps.router.enqueue(call_sid=call.sid, org=org, topic=call.topic or "*", klass=call.priority_class.value,
                            enqueued_at_ms=ms(call.queued_at))
        returned += 1
        log.warning("live.offer_returned call_sid=%s liaison=%s", call.sid, call.liaison_id)
        return_caller_from_room(deps, call)
    returned += _reconcile_callbacks(deps, now=now, limit=limit)
    restart_claimed_callbacks(deps)
    released = release_liaisons_of_ended_calls(deps)
    released |= return_unoffered_claims(deps)
    released |= restore_liaison_holds(deps)
    released |= end_calls_ended_at_the_network(deps)
    released |= end_stalled_consults(deps, ring_limit=limit, now=now)
    released |= finish_cut_off_transfers(deps, open_calls=open_calls, now=now)
    presence.end_overdue_wrap_ups(deps)
    orgs = {c.organisation for c in open_calls if c.organisation}
    orgs |= {cb.organisation for cb in deps.callbacks.in_states(frozenset({CallbackState.SCHEDULED}))}
    orgs |= released
    dispatched = sum(dispatch(deps, org=org) for org in sorted(orgs))
    return ReconcileReport(rebuilt, returned, dispatched)


def return_caller_from_room(deps: CallDeps, call: CallRecord) -> None:
    """A lost offer on the conference bridge (the process that placed the liaison's leg, or that should have
    handled its reports, died): the leg that may still ring is cancelled and the caller, who may wait in the
    call's room, is redirected back to the line, so nobody stays on hold in a room forever. Only for calls
    that had a leg placed; a caller who never left the queue's hold loop needs nothing."""
    if room.liaison_leg(deps, call) is None:
        return
    room.cancel_liaison_leg(deps, call, reason="lost offer")
    try:
        deps.telephony.redirect(call_sid=call.sid, to=Goto.to(Step.BACK_IN_LINE))
    except Exception as exc:  # noqa: BLE001 - the caller is gone: the status report (or the next run) ends it
        log.warning("live.room_return_failed call_sid=%s error=%s", call.sid, type(exc).__name__)


def end_stalled_consults(deps: CallDeps, *, ring_limit: datetime, now: datetime) -> set[str]:
    """Consults of connected calls that nothing will move on, each read once:
    - a consulted liaison's leg that rang since before `ring_limit` with no report since (the process that placed
      it, or the one that got its report, died): hung up and the liaison freed;
    - a consult asked for more than `consult_wait_seconds` ago that no liaison was claimed for: ended as "nobody
      free", so the first liaison is not left waiting for an organisation that is not answering.
    Either way the first liaison sees it and decides (the caller still on hold with them). The organisations freed."""
    wait_limit = now - timedelta(seconds=deps.consult_wait_seconds)
    freed: set[str] = set()
    for call in deps.calls.calls_in_states(frozenset({CallState.CONNECTED})):
        found = consult_record.current(deps, call)
        if found is None or found.since is None:
            continue
        if found.step == "ringing" and found.liaison is not None and found.since <= ring_limit:
            if found.leg is not None:
                room.cancel_leg(deps, leg=found.leg, reason="lost consult ring")
            consult.not_answered(deps, record=call, liaison_id=found.liaison, away=False)
            log.warning("live.consult_ring_ended call_sid=%s liaison=%s", call.sid, found.liaison)
            freed.add(found.to_organisation)
        elif found.step == "asked" and found.since <= wait_limit and consult.give_up_waiting(deps, record=call):
            log.warning("live.consult_nobody_free call_sid=%s to=%s", call.sid, found.to_organisation)
    return freed


def finish_cut_off_transfers(deps: CallDeps, *, open_calls: list[CallRecord], now: datetime) -> set[str]:
    """Queued calls whose last event is a blind transfer older than TRANSFER_REPAIR_AFTER_SECONDS and that are
    in no line and held by nobody: the process doing the transfer died after the record moved the call. The first
    liaison is released (only if still held for this call) and the caller redirected to the transfer's message,
    whose hold loop puts them in the new line at their original queue time. The organisations freed."""
    limit = now - timedelta(seconds=TRANSFER_REPAIR_AFTER_SECONDS)
    freed: set[str] = set()
    for call in open_calls:
        if call.state != CallState.QUEUED or not call.organisation or call.answered_at is None:
            continue  # a transferred call was answered before: the many never answered cost no read here
        last = deps.calls.events(call.sid)[-1:]
        if not last or last[0].kind != EventKind.TRANSFERRED or last[0].at > limit:
            continue
        if (deps.router.position(call_sid=call.sid, org=call.organisation) is not None
                or deps.router.liaison_of_call(call_sid=call.sid, org=call.organisation) is not None):
            continue
        first, from_org = last[0].detail.get("liaison"), str(last[0].detail.get("from_organisation") or "")
        if isinstance(first, int) and deps.router.call_of_liaison(liaison_id=first, org=from_org) == call.sid:
            release_after_conversation(deps, liaison_id=first, org=from_org, call_sid=call.sid)
            freed.add(from_org)
        try:
            deps.telephony.redirect(call_sid=call.sid, to=Goto.to(Step.TRANSFERRED))
        except Exception as exc:  # noqa: BLE001 - the caller is gone: their status report (or the next run) ends it
            log.warning("live.transfer_redirect_failed call_sid=%s error=%s", call.sid, type(exc).__name__)
            continue
        log.warning("live.transfer_finished call_sid=%s to=%s (the process doing it had stopped)", call.sid,
                    call.organisation)
    return freed


def restart_claimed_callbacks(deps: CallDeps) -> int:
    """A liaison the router holds for a callback the record still has scheduled: the process that claimed
    them died before it asked a worker to place the attempt (or that job is still queued). The attempt job
    is asked for again: it claims the attempt on the row, so of two runs only one dials. How many."""
    asked = 0
    for liaison_id, org, _status, _since in deps.presence.all():
        held = deps.router.call_of_liaison(liaison_id=liaison_id, org=org)
        callback_id = callback_id_of(held) if held is not None else None
        if callback_id is None:
            continue
        callback = deps.callbacks.get(callback_id)
        if callback is None or callback.state != CallbackState.SCHEDULED:
            continue
        deps.jobs.start_attempt(callback_id=callback_id, liaison_id=liaison_id)
        log.warning("live.callback_attempt_asked_again callback=%s liaison=%s (claimed, not dialled)", callback_id,
                    liaison_id)
        asked += 1
    return asked


def release_liaisons_of_ended_calls(deps: CallDeps) -> set[str]:
    """A liaison the router still holds for a call the record says has ended (the release was lost: a Redis
    failover dropped the write, a process died between the two): available again. Only ended calls count:
    a call the router claimed a moment ago may not be offered in SQL yet. The release names the call, so a
    liaison who has moved on to another call is left alone. The organisations whose liaisons were freed."""
    freed: set[str] = set()
    for liaison_id, org, _status, _since in deps.presence.all():
        held = deps.router.call_of_liaison(liaison_id=liaison_id, org=org)
        if held is None or callback_id_of(held) is not None:
            continue
        record = deps.calls.get(consult_record.call_of(held) or held)  # a consulted liaison: the consult's call
        if record is not None and record.state != CallState.ENDED:
            continue
        now = deps.clock.now()
        result = deps.router.release_liaison(liaison_id=liaison_id, org=org, status=Presence.AVAILABLE,
                                             now_ms=ms(now), call_sid=held)
        if result.accepted:
            deps.presence.save(liaison_id=liaison_id, organisation=org, status=Presence.AVAILABLE.value, since=now)
            log.warning("live.liaison_released call_sid=%s liaison=%s (the call had ended)", held, liaison_id)
            freed.add(org)
    return freed


def _reconcile_callbacks(deps: CallDeps, *, now: datetime, limit: datetime) -> int:
    """Due rows whose scheduled job was lost join the line; attempts that never reached Twilio go back;
    open callbacks past their expiry end; scheduled rows missing in the router (the job that made them due
    died between the record and the line) join it again."""
    for callback in deps.callbacks.due(now=now):
        make_due(deps, callback_id=callback.id)
    returned = 0
    for callback in deps.callbacks.in_states(OPEN):
        if callback.expires_at <= now and callback.state != CallbackState.DIALLING:
            deps.callbacks.move(callback.id, to=CallbackState.EXPIRED, cause="expired", at=now,
                                expect=frozenset({callback.state}))
            deps.router.abandon(call_sid=router_member(callback.id), org=callback.organisation)
            continue
        started = callback.attempt_started_at
        if callback.state != CallbackState.DIALLING or started is None or started > limit:
            continue
        if callback.attempt_call_sid is None and callback.liaison_id is not None:
            # Claimed, but neither the REST answer nor any webhook of this attempt came: it was never
            # dialled (the worker died before the call was placed). Back in line, no attempt used.
            back_in_line(deps, callback, liaison_id=callback.liaison_id, cause="attempt never placed",
                         liaison_rung=False)
            returned += 1
        elif started <= now - ATTEMPT_LOST_AFTER:
            deps.callbacks.move(callback.id, to=CallbackState.FAILED, cause="attempt lost: no result from Twilio",
                                at=now, expect=frozenset({CallbackState.DIALLING}), expect_attempts=callback.attempts)
    for callback in deps.callbacks.in_states(frozenset({CallbackState.SCHEDULED})):
        if callback.expires_at > now:
            returned += rejoin_line(deps, callback)
    return returned


def return_unoffered_claims(deps: CallDeps) -> set[str]:
    """A liaison the router has held for UNOFFERED_CLAIM_SECONDS for a call the record has waiting in line (see
    the module's docstring): the call back to its place in line, the liaison available, or away when the
    record says they did not answer it. The router's scripts act only while it still holds the liaison for that
    call, so a claim made again meanwhile is left alone. The organisations whose liaisons changed."""
    changed: set[str] = set()
    old_ms = ms(deps.clock.now()) - UNOFFERED_CLAIM_SECONDS * 1000
    for liaison_id, org, _status, _since in deps.presence.all():
        held = deps.router.call_of_liaison(liaison_id=liaison_id, org=org)
        if held is None or callback_id_of(held) is not None or consult_record.call_of(held) is not None:
            continue
        since = deps.router.liaison_since_ms(liaison_id=liaison_id, org=org)
        if since is None or since > old_ms:
            continue
        record = deps.calls.get(held)
        if record is None or record.state != CallState.QUEUED or record.organisation != org:
            continue
        now = deps.clock.now()
        if returned_from(deps, record, liaison_id=liaison_id):
            back = deps.router.requeue_after_no_answer(call_sid=held, liaison_id=liaison_id, org=org)
            if back.liaison_set_away:
                deps.presence.save(liaison_id=liaison_id, organisation=org, status=Presence.AWAY.value, since=now)
            log.warning("live.return_finished call_sid=%s liaison=%s (an unanswered offer's return stopped halfway)",
                        held, liaison_id)
        else:
            freed = deps.router.abandon(call_sid=held, org=org).freed_liaison_id
            deps.router.enqueue(call_sid=held, org=org, topic=record.topic or ANY_TOPIC,
                                klass=record.priority_class.value,
                                enqueued_at_ms=ms(record.queued_at or record.received_at))
            current = deps.calls.get(held)
            if current is None or current.state != CallState.QUEUED:  # ended meanwhile: not back in line
                deps.router.abandon(call_sid=held, org=org)
            if freed == liaison_id:
                deps.presence.save(liaison_id=liaison_id, organisation=org, status=Presence.AVAILABLE.value,
                                   since=now)
            log.warning("live.claim_returned call_sid=%s liaison=%s (claimed, never offered)", held, liaison_id)
        changed.add(org)
    return changed


def restore_liaison_holds(deps: CallDeps) -> set[str]:
    """The record's offered and connected calls, each held in the router by its liaison: a claim that Redis
    acknowledged and then lost in a failover is made again (the dispatch refuses such a liaison meanwhile,
    holds.held_in_the_record). The record is read again after the router, so a call that moved on in
    between is left alone. The organisations whose router state changed."""
    changed: set[str] = set()
    for call in deps.calls.calls_in_states(frozenset({CallState.OFFERED, CallState.CONNECTED})):
        if call.liaison_id is None or not call.organisation:
            continue
        if deps.router.call_of_liaison(liaison_id=call.liaison_id, org=call.organisation) == call.sid:
            continue
        record = deps.calls.get(call.sid)
        if record is None or record.state != call.state or record.liaison_id != call.liaison_id:
            continue
        if deps.router.call_of_liaison(liaison_id=call.liaison_id, org=call.organisation) == call.sid:
            continue
        if restore_hold(deps, record):
            changed.add(call.organisation)
    return changed


def end_calls_ended_at_the_network(deps: CallDeps) -> set[str]:
    """A call the record keeps open though it ended at the network (the status report that said so was
    refused or answered while the database was away, and is never repeated): ended now, as that report
    would have, freeing its place in line or its liaison. The organisations whose liaisons or lines changed."""
    now = deps.clock.now()
    old = now - timedelta(seconds=NETWORK_CHECK_AFTER_SECONDS)
    candidates = sorted((c for c in deps.calls.calls_in_states(OPEN_STATES) if c.received_at <= old),
                        key=lambda c: c.sid)
    if len(candidates) > NETWORK_CHECKS_PER_RUN:
        start = (int(now.timestamp()) // 10 * NETWORK_CHECKS_PER_RUN) % len(candidates)
        candidates = (candidates[start:] + candidates[:start])[:NETWORK_CHECKS_PER_RUN]
    changed: set[str] = set()
    for call in candidates:
        try:
            leg = deps.telephony.leg_status(call_sid=call.sid)
        except Exception as exc:  # noqa: BLE001 - the network unreachable now: the next run asks again
            log.warning("live.network_check_failed call_sid=%s error=%s", call.sid, type(exc).__name__)
            return changed
        if leg is None or not leg.status.ended:
            continue
        record = deps.calls.get(call.sid)
        if record is None or record.state == CallState.ENDED:
            continue
        end_call(deps, record, leg=leg.status, reason="ended at the network; its status report never came",
                 at=min(leg.ended_at, now) if leg.ended_at else None)
        log.warning("live.ended_at_network call_sid=%s state=%s status=%s", call.sid, record.state, leg.status)
        if record.organisation:
            changed.add(record.organisation)
    return changed
