"""<Dial>: child call legs to phones, whisper TwiML, bridging; and ringing a phone for any leg."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import twiml
from .calls import Call, Fetch, Pending, StatusCallbackSpec
from .twiml import ENDED, Ctx, Outcome, attr_bool, attr_int, text_of

if TYPE_CHECKING:
    from .engine import Engine

_CALLEE_EVENT = {"busy": "callee_busy", "no-answer": "callee_no_answer", "failed": "callee_failed",
                 "canceled": "callee_canceled", "completed": "callee_hangup"}


async def ring(engine: Engine, leg: Call, timeout: float | None) -> bool:
    """Ring the phone at leg.to as its behaviour says. True once answered; otherwise the leg ended.

    timeout=None rings until someone else ends the leg (a <Dial> applies its own timeout).
    """
    address = leg.to
    engine.dial_counts[address] += 1
    phone = engine.phones.get(address)
    behaviour = phone.behaviour if phone is not None else "no-answer"
    if phone is not None and phone.active_calls > 0 and not phone.call_waiting:
        behaviour = "busy"
    engine.status_event(leg, "initiated")
    await engine.clock.sleep(0.5)  # setting up the call
    if behaviour == "fail":
        engine.end(leg, "failed", by="network")
        return False
    if behaviour == "busy":
        engine.end(leg, "busy", by="callee")
        return False
    leg.status = "ringing"
    leg.record(engine.clock.now(), "ringing")
    engine.status_event(leg, "ringing")
    if leg.parent is not None:
        leg.parent.record(engine.clock.now(), "callee_ringing", to=address, sid=leg.sid)
    # No phone at the address: behaviour is "no-answer" (it rings on, unanswered).
    ring_for = phone.answer_after if phone is not None and behaviour != "no-answer" else float("inf")
    if timeout is not None and ring_for > timeout:
        await engine.clock.sleep(timeout)
        engine.end(leg, "no-answer", by="timeout")
        return False
    if ring_for == float("inf"):
        await asyncio.Event().wait()  # rings until the <Dial> gives up or the caller hangs up
    await engine.clock.sleep(ring_for)
    leg.phone = phone
    engine.answer(leg)
    return True


@dataclass
class Target:
    address: str
    url: str | None = None
    method: str = "POST"
    status_callback: StatusCallbackSpec | None = None


def _targets(ctx: Ctx, el: ET.Element) -> list[Target] | str:
    targets: list[Target] = []
    bare = (el.text or "").strip()
    if bare:
        targets.append(Target(bare))
    for noun in el:
        tag = noun.tag
        if tag not in ("Number", "Client", "Sip"):
            return f"<Dial><{tag}> is not supported by the emulator"
        address = text_of(noun) if tag != "Client" else _client_identity(noun)
        if tag == "Client":
            address = f"client:{address}"
        cb = StatusCallbackSpec.of(ctx.resolve(noun.get("statusCallback")),
                                   noun.get("statusCallbackEvent"), noun.get("statusCallbackMethod"))
        targets.append(Target(address, ctx.resolve(noun.get("url")), noun.get("method", "POST").upper(), cb))
    return targets


def _client_identity(noun: ET.Element) -> str:
    identity = noun.find("Identity")
    return text_of(identity) if identity is not None else text_of(noun)


class Bridge:
    def __init__(self, a: Call, b: Call, now: float) -> None:
        self.a, self.b, self.started = a, b, now
        self.ended = asyncio.Event()
        self.ended_by: Call | None = None

    def end(self, by: Call) -> None:
        if not self.ended.is_set():
            self.ended_by = by
            self.ended.set()


class DialAttempt:
    """What the parent's <Dial> learns from its child legs."""

    def __init__(self) -> None:
        self.news: asyncio.Queue[tuple[str, Call]] = asyncio.Queue()
        self.decisions: dict[str, asyncio.Future[Bridge | None]] = {}


@dataclass
class DialExit:
    """Posts the Dial action when the <Dial> is interrupted: the caller hung up, or the call was redirected by REST."""

    action: str | None
    method: str
    params: dict[str, str]

    async def run(self, engine: Engine, call: Call, pending: Pending) -> None:
        # Twilio's changelog "Changes to <Dial> behavior" (24 May 2021): when the parent call is modified
        # to new TwiML during a <Dial> with an action, Twilio still requests the action but does not execute
        # the TwiML it returns. After a hang-up the returned TwiML has nothing to run on either.
        if self.action and pending.kind in ("hangup", "redirect"):
            await engine.post_ignored(call, self.action, self.method, self.params, "action")


async def dial_verb(ctx: Ctx, el: ET.Element) -> Outcome | None:
    engine, parent = ctx.engine, ctx.call
    action = ctx.resolve(el.get("action"))
    method = el.get("method", "POST").upper()
    timeout = attr_int(el, "timeout", 30)
    time_limit = attr_int(el, "timeLimit", 14400)
    caller_id = el.get("callerId") or parent.from_
    answer_on_bridge = attr_bool(el, "answerOnBridge")
    conference = el.find("Conference")
    if conference is not None:
        from .conference_legs import conference_noun

        return await conference_noun(ctx, el, conference)
    targets = _targets(ctx, el)
    if isinstance(targets, str) or not targets:
        message = targets if isinstance(targets, str) and targets else "Dial: no number to dial"
        engine.application_error(parent, 13223, message, ctx.doc_url)
        return ENDED
    attempt = DialAttempt()
    legs: list[Call] = []
    parent.record(ctx.now(), "dial_started", to=[t.address for t in targets], timeout=timeout,
                  caller_id=caller_id, answer_on_bridge=answer_on_bridge)
    for target in targets:
        legs.append(_start_leg(engine, parent, target, caller_id, attempt))
    winner: Call | None = None
    bridge: Bridge | None = None
    deadline = engine.clock.now() + timeout  # simulated: a clock that stands still does not ring out
    answered: set[str] = set()
    try:
        while winner is None and not all(leg.is_over for leg in legs):
            left = None if answered else engine.clock.real(deadline - engine.clock.now())
            if left is not None and left <= 0:
                for leg in legs:
                    if leg.answered_at is None:
                        engine.hangup(leg, "no-answer", by="timeout")
                # Each leg has news now: "ended" for those hung up, and for a leg that answered just
                # as the timeout fired, its "answered" (the timed-out get() left it in the queue).
                # Wait for it: looping without awaiting would spin forever and freeze the emulator.
                left = None
            try:
                kind, leg = await asyncio.wait_for(attempt.news.get(), left)
            except TimeoutError:
                continue
            if kind == "answered":
                answered.add(leg.sid)
            elif kind == "ready" and not leg.is_over:
                winner = leg
            elif kind == "ended":
                answered.discard(leg.sid)
        for leg in legs:
            if leg is not winner:
                engine.hangup(leg, "canceled" if leg.answered_at is None else "completed", by="twilio")
        if winner is not None:
            bridge = Bridge(parent, winner, ctx.now())
        for leg in legs:
            future = attempt.decisions[leg.sid]
            if not future.done():
                future.set_result(bridge if leg is winner else None)
        if winner is not None and bridge is not None:
            if parent.answered_at is None:
                engine.answer(parent)  # answerOnBridge: the caller's leg is answered only now
            parent.bridge_peer, winner.bridge_peer = winner, parent
            parent.record(ctx.now(), "bridged", sid=winner.sid, **{"with": winner.to})
            winner.record(ctx.now(), "bridged", sid=parent.sid, **{"with": parent.from_})
            talk = parent.person.talk_seconds()
            hang = engine.spawn(_hangup_after(engine, parent, talk)) if talk is not None else None
            try:
                await engine.clock.wait_for(bridge.ended.wait(), time_limit)
            except TimeoutError:
                engine.hangup(winner, by="time-limit")
                await bridge.ended.wait()
            finally:
                if hang is not None:
                    hang.cancel()
            parent.bridge_peer = winner.bridge_peer = None
            parent.record(ctx.now(), "unbridged", sid=winner.sid, **{"with": winner.to})
    except asyncio.CancelledError:
        # The caller hung up, or the call was redirected by REST: the dialled legs go too.
        parent.bridge_peer = None
        if winner is not None:
            winner.bridge_peer = None
        for leg in legs:
            engine.hangup(leg, "canceled" if leg.answered_at is None else "completed", by="caller")
        if bridge is not None:
            bridge.end(parent)
        status = "completed" if winner is not None else "canceled"
        # Twilio docs unclear: the DialCallStatus for a caller who hangs up while the callee
        # rings; the emulator sends "canceled", the status the child leg gets.
        parent.exit_hooks.append(DialExit(action, method, _dial_params(engine, status, _reported_leg(legs, winner),
                                                                       bridged=winner is not None)))
        raise
    if winner is not None:
        status = "completed"
    else:
        status = _combined_status(legs)
    parent.record(ctx.now(), "dial_ended", dial_call_status=status, bridged=winner is not None)
    if action:
        return Fetch(action, method, _dial_params(engine, status, _reported_leg(legs, winner),
                                                  bridged=winner is not None), kind="action")
    return None  # without action, Twilio continues with the verb after <Dial>


def _reported_leg(legs: list[Call], winner: Call | None) -> Call:
    """The leg the Dial action names in DialCallSid: the bridged one, else the last one picked up, else the last."""
    if winner is not None:
        return winner
    picked_up = [leg for leg in legs if leg.answered_at is not None]
    return picked_up[-1] if picked_up else legs[-1]


def _dial_params(engine: Engine, status: str, leg: Call, *, bridged: bool) -> dict[str, str]:
    """The Dial action's parameters. DialBridged ("true"/"false") goes with every Dial action request:
    a callee who picked up but hung up during the whisper gives completed, DialBridged=false and a
    DialCallDuration of 0 (nobody was connected)."""
    params = {"DialCallStatus": status, "DialCallSid": leg.sid, "DialBridged": "true" if bridged else "false"}
    if status == "completed":
        if bridged and leg.answered_at is not None:
            end = leg.ended_at if leg.ended_at is not None else engine.clock.now()
            params["DialCallDuration"] = str(max(0, int(round(end - leg.answered_at))))
        else:
            params["DialCallDuration"] = "0"
    return params


def _combined_status(legs: list[Call]) -> str:
    """DialCallStatus of a <Dial> whose legs all ended without a bridge."""
    if any(leg.answered_at is not None for leg in legs):
        # Picked up, then hung up during the whisper (the phone, or the whisper TwiML): Twilio reports
        # completed, with DialBridged=false. Twilio docs unclear: the status when, with several nouns,
        # one callee declined in the whisper and the others did not answer; the emulator reports
        # completed (somebody picked up) and names the leg that picked up.
        return "completed"
    statuses = {"no-answer" if leg.status in ("completed", "canceled") else leg.status for leg in legs}
    if len(statuses) == 1:
        return statuses.pop()
    for status in ("no-answer", "busy", "failed"):
        if status in statuses:
            return status
    return "failed"


async def _hangup_after(engine: Engine, call: Call, seconds: float) -> None:
    await engine.clock.sleep(seconds)
    engine.hangup(call, by="caller")


def _start_leg(engine: Engine, parent: Call, target: Target, caller_id: str, attempt: DialAttempt) -> Call:
    phone = engine.phones.get(target.address)
    leg = engine.new_call(from_=caller_id, to=target.address, direction="outbound-dial",
                          person=phone.person() if phone else None, parent=parent,
                          status_callback=target.status_callback)
    attempt.decisions[leg.sid] = asyncio.get_running_loop().create_future()

    def on_end(c: Call) -> None:
        parent.record(engine.clock.now(), _CALLEE_EVENT.get(c.status, "callee_hangup"), to=c.to, sid=c.sid,
                      status=c.status, by=c.ended_by)
        attempt.news.put_nowait(("ended", c))

    leg.end_listeners.append(on_end)
    parent.record(engine.clock.now(), "dialing", to=target.address, sid=leg.sid)
    leg.runner = engine.spawn(engine._run_leg(leg, _run_dial_leg(engine, leg, target, attempt)))
    return leg


async def _run_dial_leg(engine: Engine, leg: Call, target: Target, attempt: DialAttempt) -> None:
    try:
        await _leg_phase(engine, leg, target, attempt)
        return
    except asyncio.CancelledError:
        twiml._uncancel()
        if engine.closing:
            raise
    # Interrupted: hung up, or redirected by REST (then the leg runs its new TwiML on its own).
    nxt = await twiml.after_interrupt(engine, leg)
    if nxt is not None:
        await twiml.drive(engine, leg, nxt)


async def _leg_phase(engine: Engine, leg: Call, target: Target, attempt: DialAttempt) -> None:
    parent = leg.parent
    assert parent is not None
    if not await ring(engine, leg, timeout=None):
        return
    parent.record(engine.clock.now(), "callee_answered", to=leg.to, sid=leg.sid)
    attempt.news.put_nowait(("answered", leg))
    phone = engine.phones.get(leg.to)
    if target.url:
        parent.record(engine.clock.now(), "whisper_started", to=leg.to, sid=leg.sid)
        quitter = None
        if phone is not None and phone.behaviour == "hangup-on-whisper":
            quitter = engine.spawn(_callee_hangs_up(engine, leg, phone.whisper_hangup_after))
        try:
            result = await twiml.run_program(engine, leg, Fetch(target.url, target.method, kind="whisper"),
                                             "whisper")
        finally:
            if quitter is not None:
                quitter.cancel()
        parent.record(engine.clock.now(), "whisper_ended", to=leg.to, sid=leg.sid,
                      outcome="hangup" if result == ENDED or leg.is_over else "done")
        if leg.is_over:
            return  # the whisper hung up: this leg is not bridged
    attempt.news.put_nowait(("ready", leg))
    bridge = await attempt.decisions[leg.sid]
    if bridge is None:
        await asyncio.Event().wait()  # another leg won; the <Dial> hangs this one up
        return
    leg.end_listeners.append(lambda c: bridge.end(c))
    parent.end_listeners.append(lambda c: bridge.end(c))
    talk = leg.person.talk_seconds()
    try:
        if talk is None:
            await bridge.ended.wait()
        else:
            try:
                await engine.clock.wait_for(bridge.ended.wait(), talk)
            except TimeoutError:
                pass
    except asyncio.CancelledError:
        bridge.end(leg)  # redirected or hung up: the bridge is over
        raise
    if not bridge.ended.is_set():
        bridge.end(leg)
        engine.end(leg, "completed", by="callee")
    else:
        engine.end(leg, "completed", by="caller" if bridge.ended_by is parent else "callee")


async def _callee_hangs_up(engine: Engine, leg: Call, after: float) -> None:
    """The phone hangs up `after` seconds into the whisper: the whisper ends there, unbridged."""
    await engine.clock.sleep(after)
    if leg.is_over:
        return
    engine.hangup(leg, by="callee")
    if leg.parent is not None:  # recorded before the <Dial> can see the leg has ended
        leg.parent.record(engine.clock.now(), "whisper_ended", to=leg.to, sid=leg.sid, outcome="hangup")
