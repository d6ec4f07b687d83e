"""Callbacks, exactly once: asked for by the caller, routed like a call, dialled agent-first by a worker.

The SQL row is the truth. A due callback waits in the router's queue as "cb:<id>" with the
caller's original place in line, so it counts in the positions others hear. When the router
claims it for a liaison, a worker claims the attempt on the row (compare-and-set) before any
dialling; a second run of the same job, or a second worker, finds the row taken and dials
nothing. The liaison is called first, hears why, and presses 1 to be connected.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.callbacks import (
    OPEN,
    Callback,
    CallbackOrigin,
    CallbackState,
    next_retry,
    router_member,
)
from callrouter.domain.calls import CallRecord, CallState, EventKind, Outcome, PriorityClass
from callrouter.domain.queueing import CallClass, Claim, Presence
from callrouter.services.calls import holds
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import ms
from callrouter.services.errors import Conflict, NotFound

log = logging.getLogger("callrouter.callbacks")
ATTEMPT_LOST_AFTER = timedelta(hours=2)


def open_key(*, record: CallRecord, organisation: str, topic: str) -> str:
    who = f"cw{record.caseworker_id}" if record.caseworker_id else record.caller_pseudonym
    return f"{who}:{organisation}:{topic}"


def request_callback(deps: CallDeps, *, record: CallRecord, origin: CallbackOrigin, phone_number: str,
                     due_at: datetime | None = None, voice_message_url: str | None = None) -> tuple[Callback, bool]:
    """Create the callback (or join the caller's open one); due now: it takes the caller's place in line."""
    now = deps.clock.now()
    organisation, topic = record.organisation or "", record.topic or "*"
    due = max(due_at or now, now)
    state = CallbackState.SCHEDULED if due <= now else CallbackState.REQUESTED
    policy = deps.callback_policy
    values: dict[str, object] = {
        "state": state, "origin": origin, "organisation": organisation, "topic": topic,
        "priority_class": record.priority_class.value, "phone_number": phone_number, "line_number": record.line_number,
        "place_at": record.queued_at or now, "due_at": due, "expires_at": due + timedelta(hours=policy.expiry_hours),
        "attempts": 0, "max_attempts": policy.max_attempts, "created_at": now, "caseworker_id": record.caseworker_id,
        "location": record.location, "call_sid": record.sid, "voice_message_url": voice_message_url,
    }
    callback, created = deps.callbacks.create(values, open_key=open_key(record=record, organisation=organisation,
                                                                        topic=topic), cause=f"asked: {origin.value}")
    if not created:
        log.info("callback.joined callback=%s call_sid=%s", callback.id, record.sid)
        return callback, False
    log.info("callback.requested callback=%s origin=%s state=%s", callback.id, origin.value, state.value)
    if state == CallbackState.SCHEDULED:
        wait_in_line(deps, callback)
    else:
        deps.jobs.make_due_at(callback_id=callback.id, at=due)
    return callback, True


def wait_in_line(deps: CallDeps, callback: Callback) -> None:
    deps.router.enqueue(call_sid=router_member(callback.id), org=callback.organisation, topic=callback.topic,
                        klass=callback.priority_class, enqueued_at_ms=ms(callback.place_at))
    deps.after.route(org=callback.organisation)


def make_due(deps: CallDeps, *, callback_id: int) -> bool:
    """A requested or retrying callback's moment has come: it joins the line in its old place."""
    moved = deps.callbacks.move(callback_id, to=CallbackState.SCHEDULED, cause="due", at=deps.clock.now(),
                                expect=frozenset({CallbackState.REQUESTED, CallbackState.RETRY}))
    if moved is None:
        return False
    wait_in_line(deps, moved)
    return True


def rejoin_line(deps: CallDeps, callback: Callback) -> bool:
    """A scheduled callback the router does not know (the process that made it due, or put it back, died
    between the record and the line): in line again, in its old place. True: it was missing. The enqueue is
    idempotent, so a callback in line or claimed is left alone; one that moved on in the record meanwhile is
    taken out again."""
    added = deps.router.enqueue(call_sid=router_member(callback.id), org=callback.organisation,
                                topic=callback.topic, klass=callback.priority_class,
                                enqueued_at_ms=ms(callback.place_at))
    if not added:
        return False
    current = deps.callbacks.get(callback.id)
    if current is None or current.state != CallbackState.SCHEDULED:
        deps.router.abandon(call_sid=router_member(callback.id), org=callback.organisation)
        return False
    log.warning("callback.rejoined_line callback=%s (scheduled in the record, missing in the router)", callback.id)
    return True


def start_attempt(deps: CallDeps, *, callback_id: int, liaison_id: int) -> bool:
    """Claim the attempt on the row, then call the liaison. False: nothing dialled (already taken)."""
    current = deps.callbacks.get(callback_id)
    member = router_member(callback_id)
    if current is None or current.state != CallbackState.SCHEDULED:
        in_hand = current is not None and current.state == CallbackState.DIALLING and current.liaison_id == liaison_id
        if current is not None and not in_hand:  # the router's claim is stale: give the liaison back
            release(deps, organisation=current.organisation, liaison_id=liaison_id, member=member)
        return False  # a second run of the same job: the first one has the attempt
    if deps.router.call_of_liaison(liaison_id=liaison_id, org=current.organisation) != member:
        # A late run for a claim that is over (back in line, claimed since for someone else; or a run the
        # reconciler asked for again): only the liaison the router holds for this callback is dialled.
        log.warning("callback.attempt_not_held callback=%s liaison=%s", callback_id, liaison_id)
        return False
    now = deps.clock.now()
    claim = Claim(call_sid=member, liaison_id=liaison_id, org=current.organisation, topic=current.topic,
                  klass=CallClass(current.priority_class), waited_ms=max(0, ms(now) - ms(current.place_at)))
    if holds.held_in_the_record(deps, claim, now_ms=ms(now)):
        # The router gave a liaison the record has on another attempt or call (it lost that hold: a rebuild
        # from SQL, a failover): not rung twice. This callback is back in its place in line.
        return False
    attempt = current.attempts + 1
    taken = deps.callbacks.move(callback_id, to=CallbackState.DIALLING, cause=f"attempt {attempt} claimed",
                                at=now, expect=frozenset({CallbackState.SCHEDULED}),
                                expect_attempts=current.attempts, detail={"liaison": liaison_id},
                                attempts=attempt, liaison_id=liaison_id, attempt_started_at=now,
                                attempt_call_sid=None)
    if taken is None:
        return False
    liaison = deps.directory.liaison(liaison_id)
    if liaison is None:
        back_in_line(deps, taken, liaison_id=liaison_id, cause="liaison unknown")
        return False
    sid = deps.telephony.create_call(to=liaison.address, from_=taken.line_number,
                                     answer=Goto.to(Step.CALLBACK_LIAISON, cb=callback_id, a=attempt, l=liaison_id),
                                     status=Goto.to(Step.CALLBACK_LEG_STATUS, cb=callback_id, a=attempt, l=liaison_id),
                                     timeout=deps.dial_timeout_seconds)
    deps.callbacks.move(callback_id, to=CallbackState.DIALLING, cause="liaison leg placed", at=deps.clock.now(),
                        expect=frozenset({CallbackState.DIALLING}), expect_attempts=attempt, attempt_call_sid=sid)
    log.info("callback.dialling callback=%s attempt=%s liaison=%s", callback_id, attempt, liaison_id)
    return True


def release(deps: CallDeps, *, organisation: str, liaison_id: int, member: str,
            status: Presence = Presence.AVAILABLE) -> bool:
    now = deps.clock.now()
    result = deps.router.release_liaison(liaison_id=liaison_id, org=organisation, status=status, now_ms=ms(now),
                                         call_sid=member)
    if result.accepted:
        deps.presence.save(liaison_id=liaison_id, organisation=organisation, status=status.value, since=now)
        deps.after.route(org=organisation)
    return result.accepted


def release_after_conversation(deps: CallDeps, *, callback: Callback, liaison_id: int) -> None:
    """The liaison talked with the caller: wrap-up (ended by a timer) when the service has one, as after a call."""
    status = Presence.WRAP_UP if deps.wrap_up_seconds else Presence.AVAILABLE
    released = release(deps, organisation=callback.organisation, liaison_id=liaison_id,
                       member=router_member(callback.id), status=status)
    if released and status == Presence.WRAP_UP:
        deps.jobs.end_wrap_up_at(liaison_id=liaison_id, at=deps.clock.now() + timedelta(seconds=deps.wrap_up_seconds))


def record_conversation(deps: CallDeps, *, callback: Callback, leg_sid: str | None,
                        talk_seconds: int | None) -> CallRecord:
    """The callback's conversation as a call row of its own (written once it is over), so the console, the
    call record and the statistics see it like a routed call: talk time, the liaison's outcome, its case.
    Its sid is the liaison's leg; the statistics count it as a conversation, not as a call that arrived."""
    now = deps.clock.now()
    started = now - timedelta(seconds=max(talk_seconds or 0, 0))
    asked_in = deps.calls.get(callback.call_sid) if callback.call_sid else None
    record = CallRecord(
        sid=leg_sid or callback.attempt_call_sid or f"cb{callback.id}-{callback.attempts}",
        line_number=callback.line_number,
        line_kind="professional" if callback.priority_class == PriorityClass.PROFESSIONAL.value else "citizen",
        caller_pseudonym=asked_in.caller_pseudonym if asked_in else "", caller_masked=asked_in.caller_masked if asked_in else "",
        state=CallState.ENDED, received_at=started, caseworker_id=callback.caseworker_id, location=callback.location,
        organisation=callback.organisation, topic=callback.topic, language=asked_in.language if asked_in else "nl",
        answered_at=started, ended_at=now, liaison_id=callback.liaison_id, outcome=Outcome.ANSWERED,
        callback_id=callback.id)
    events: list[tuple[EventKind, datetime, dict[str, object]]] = [
        (EventKind.CALLBACK_CONVERSATION, started, {"callback": callback.id, "attempt": callback.attempts,
                                                    "asked_in": callback.call_sid}),
        (EventKind.ANSWERED, started, {"liaison": callback.liaison_id, "from": "callback"}),
        (EventKind.COMPLETED, now, {"status": "completed", "reason": "callback conversation ended",
                                    "talk_seconds": talk_seconds}),
    ]
    stored, created = deps.calls.open_conversation(record, events=events, same_case_as=callback.call_sid)
    if created:
        log.info("callback.conversation callback=%s call_sid=%s talk_seconds=%s", callback.id, stored.sid, talk_seconds)
    return stored


def back_in_line(deps: CallDeps, callback: Callback, *, liaison_id: int, cause: str,
                 liaison_rung: bool = True) -> None:
    """The liaison did not take it (no answer, busy, gone): the callback keeps its place; the liaison is away.

    `liaison_rung=False`: the attempt was never placed (the worker died before the call went out), so the
    liaison did nothing wrong and is available again at once, not away."""
    moved = deps.callbacks.move(callback.id, to=CallbackState.SCHEDULED, cause=cause, at=deps.clock.now(),
                                expect=frozenset({CallbackState.DIALLING}), expect_attempts=callback.attempts,
                                attempts=callback.attempts - 1, attempt_call_sid=None)
    if moved is None:
        return
    deps.router.requeue_after_no_answer(call_sid=router_member(callback.id), liaison_id=liaison_id,
                                        org=callback.organisation)
    status = Presence.AWAY
    liaison = deps.directory.liaison(liaison_id)
    if not liaison_rung and liaison is not None:
        freed = deps.router.set_presence(liaison_id=liaison_id, org=callback.organisation, topics=liaison.topics,
                                         status=Presence.AVAILABLE, now_ms=ms(deps.clock.now()))
        status = Presence.AVAILABLE if freed.accepted else Presence.AWAY
    deps.presence.save(liaison_id=liaison_id, organisation=callback.organisation, status=status.value,
                       since=deps.clock.now())
    deps.after.route(org=callback.organisation)


def current_attempt(deps: CallDeps, *, callback_id: int, attempt: int, liaison_id: int | None = None) -> Callback | None:
    """The callback while this attempt (its number and, when known, its liaison) is the one being dialled."""
    callback = deps.callbacks.get(callback_id)
    if callback is None or callback.state != CallbackState.DIALLING or callback.attempts != attempt:
        return None
    if liaison_id is not None and callback.liaison_id != liaison_id:
        return None
    return callback


def caller_reached(deps: CallDeps, *, callback: Callback) -> None:
    deps.callbacks.move(callback.id, to=CallbackState.COMPLETED, cause="caller answered", at=deps.clock.now(),
                        expect=frozenset({CallbackState.DIALLING}), expect_attempts=callback.attempts)


def caller_not_reached(deps: CallDeps, *, callback: Callback, status: str) -> Callback | None:
    """Retry after the delay, up to the maximum of attempts; then failed, for liaisons and supervisors to see."""
    now = deps.clock.now()
    policy = deps.callback_policy
    retry_at = next_retry(now=now, attempts=callback.attempts, max_attempts=callback.max_attempts,
                          delay=timedelta(seconds=policy.retry_delay_seconds))
    if retry_at is None:
        return deps.callbacks.move(callback.id, to=CallbackState.FAILED, cause=f"caller {status}, attempts used up",
                                   at=now, expect=frozenset({CallbackState.DIALLING}),
                                   expect_attempts=callback.attempts)
    moved = deps.callbacks.move(callback.id, to=CallbackState.RETRY, cause=f"caller {status}", at=now,
                                expect=frozenset({CallbackState.DIALLING}), expect_attempts=callback.attempts,
                                next_attempt_at=retry_at)
    if moved is not None:
        deps.jobs.make_due_at(callback_id=callback.id, at=retry_at)
    return moved


def postpone(deps: CallDeps, *, callback_id: int, until: datetime, note: str | None, expect_attempts: int | None = None,
             organisation: str | None = None) -> Callback:
    callback = deps.callbacks.get(callback_id)
    if callback is None or (organisation and callback.organisation != organisation):
        raise NotFound(f"no callback {callback_id}")
    moved = deps.callbacks.move(callback_id, to=CallbackState.REQUESTED, cause="postponed", at=deps.clock.now(),
                                expect=frozenset({CallbackState.SCHEDULED, CallbackState.DIALLING}),
                                expect_attempts=expect_attempts, due_at=until, note=note)
    if moved is None:
        raise Conflict(f"callback {callback_id} is {callback.state.value}: it cannot be postponed now")
    member = router_member(callback_id)
    if callback.state == CallbackState.SCHEDULED:
        deps.router.abandon(call_sid=member, org=callback.organisation)
    deps.jobs.make_due_at(callback_id=callback_id, at=until)
    return moved


def close(deps: CallDeps, *, callback_id: int, to: CallbackState, cause: str, organisation: str | None) -> Callback:
    """Cancel (with a reason) or mark completed by hand, from the console."""
    callback = deps.callbacks.get(callback_id)
    if callback is None or (organisation and callback.organisation != organisation):
        raise NotFound(f"no callback {callback_id}")
    expect = frozenset(OPEN - {CallbackState.DIALLING}) if to == CallbackState.CANCELLED else OPEN
    moved = deps.callbacks.move(callback_id, to=to, cause=cause, at=deps.clock.now(), expect=expect)
    if moved is None:
        raise Conflict(f"callback {callback_id} is {callback.state.value}: it cannot be {to.value} now")
    deps.router.abandon(call_sid=router_member(callback_id), org=callback.organisation)
    return moved


def request_callback_for_abandoned(deps: CallDeps, *, record: CallRecord) -> Callback | None:
    """A caseworker who hung up after a long wait is called back (a setting), on a registered number.

    The call record keeps no phone number; a caseworker known only by PIN is not called back.
    """
    caseworker = deps.directory.caseworker(record.caseworker_id) if record.caseworker_id else None
    if caseworker is None or not caseworker.phone_numbers:
        return None
    callback, _ = request_callback(deps, record=record, origin=CallbackOrigin.ABANDONED,
                                   phone_number=caseworker.phone_numbers[0])
    return callback


def take(deps: CallDeps, *, callback_id: int, liaison_id: int, organisation: str) -> Callback:
    """A liaison picks this callback from the list: due now, claimed for them, dialled agent-first."""
    callback = deps.callbacks.get(callback_id)
    if callback is None or callback.organisation != organisation:
        raise NotFound(f"no callback {callback_id}")
    now = deps.clock.now()
    if callback.state in (CallbackState.REQUESTED, CallbackState.RETRY):
        moved = deps.callbacks.move(callback_id, to=CallbackState.SCHEDULED, cause="taken by a liaison", at=now,
                                    expect=frozenset({callback.state}), detail={"liaison": liaison_id}, due_at=now)
        if moved is None:
            raise Conflict(f"callback {callback_id} changed meanwhile; look again")
        callback = moved
        deps.router.enqueue(call_sid=router_member(callback_id), org=organisation, topic=callback.topic,
                            klass=callback.priority_class, enqueued_at_ms=ms(callback.place_at))
    elif callback.state != CallbackState.SCHEDULED:
        raise Conflict(f"callback {callback_id} is {callback.state.value}: it cannot be taken now")
    result = deps.router.claim(call_sid=router_member(callback_id), liaison_id=liaison_id, org=organisation,
                               now_ms=ms(now))
    if result == "not_available":
        raise Conflict("set yourself to available first: the callback starts by calling you")
    if result != "ok":
        raise Conflict(f"callback {callback_id} is already being handled by a colleague")
    deps.jobs.start_attempt(callback_id=callback_id, liaison_id=liaison_id)
    return callback


def open_and_failed(deps: CallDeps, *, organisation: str) -> list[Callback]:
    """The organisation's callback list: open ones in line order, then failed ones to follow up."""
    listed = deps.callbacks.in_states(OPEN | {CallbackState.FAILED}, organisation=organisation)
    return sorted(listed, key=lambda c: (c.state == CallbackState.FAILED, c.place_at, c.id))
