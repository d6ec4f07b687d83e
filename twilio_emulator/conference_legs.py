"""How call legs take part in a conference: `<Dial><Conference>`, legs dialled by the Participants resource,
and what a participant hears while it waits for the start or is on hold."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import twiml
from .calls import Call, Fetch, Pending, StatusCallbackSpec
from .conference import BEEPS, Conference, Participant, label_problem
from .conference_callbacks import conference_events
from .twiml import DEFAULT_HOLD_MUSIC, Ctx, Outcome, attr_bool, text_of

if TYPE_CHECKING:
    from .engine import Engine


@dataclass
class ConferenceDialExit:
    """Posts the Dial action when the participant's call is hung up or redirected by REST during the conference;
    the TwiML it returns is ignored (Twilio's changelog "Changes to <Dial> behavior", 24 May 2021)."""

    action: str | None
    method: str

    async def run(self, engine: Engine, call: Call, pending: Pending) -> None:
        if self.action and pending.kind in ("hangup", "redirect"):
            await engine.post_ignored(call, self.action, self.method, {"DialCallStatus": "completed"}, "action")


def _beep(value: str | None) -> str:
    if value is None:
        return "true"
    for beep in BEEPS:
        if value.strip().lower() == beep.lower():
            return beep
    return "true"


async def conference_noun(ctx: Ctx, dial_el: ET.Element, noun: ET.Element) -> Outcome | None:
    """`<Dial><Conference>name</Conference></Dial>`: join the room, stay until it ends or the leg leaves it."""
    engine, call = ctx.engine, ctx.call
    action = ctx.resolve(dial_el.get("action"))
    method = dial_el.get("method", "POST").upper()
    name = text_of(noun)
    label = noun.get("participantLabel")
    now = ctx.now()
    if label is not None and (problem := label_problem(label)):
        # Error 16023; like a taken label (16025) the call is not added and continues with the next verb.
        call.record(now, "conference_refused", conference=name, code=16023, message=problem, url=ctx.doc_url)
        return None
    conference = engine.conference_named(name)
    if conference.label_taken(label):
        # Error 16025: "The call will not be added into the conference and instead continue to the next TwiML verb."
        call.record(now, "conference_refused", conference=name, code=16025, url=ctx.doc_url,
                    message="Dial->Conference: Participant label is in use by another participant")
        return None
    coach = noun.get("coach")
    if coach and (conference.find(coach) is None or conference.status != "in-progress"):
        # Error 13240: "the call failing to the action URL".
        call.record(now, "conference_refused", conference=name, code=13240, url=ctx.doc_url,
                    message=f"Conference: the call to coach {coach} is not in the conference")
        return Fetch(action, method, {"DialCallStatus": "failed"}, kind="action") if action else None
    wait_url = ctx.resolve(noun.get("waitUrl")) if noun.get("waitUrl") is not None else None
    participant = Participant(
        call=call, label=label, muted=attr_bool(noun, "muted"),
        start_conference_on_enter=attr_bool(noun, "startConferenceOnEnter", True),
        end_conference_on_exit=attr_bool(noun, "endConferenceOnExit"), beep=_beep(noun.get("beep")),
        wait_url=wait_url, wait_method=noun.get("waitMethod", "POST").upper(),
        coaching=bool(coach), call_sid_to_coach=coach or None, created_at=now)
    callback_url = ctx.resolve(noun.get("statusCallback"))
    conference.set_callback(StatusCallbackSpec(callback_url, conference_events(noun.get("statusCallbackEvent")),
                                               noun.get("statusCallbackMethod", "POST").upper())
                            if callback_url else None)
    call.record(now, "dial_started", to=[f"conference:{name}"], conference=name)
    conference.add(participant)
    try:
        await attend(engine, conference, participant)
    except asyncio.CancelledError:
        redirected = call.pending is not None and call.pending.kind == "redirect"
        conference.leave(participant, "participant_updated_via_api" if redirected else "participant_hung_up")
        call.exit_hooks.append(ConferenceDialExit(action, method))
        raise
    call.record(ctx.now(), "dial_ended", dial_call_status="completed", bridged=True, conference=name)
    # The Dial docs: DialCallSid and DialCallDuration are "not sent after dialing a conference".
    if action:
        return Fetch(action, method, {"DialCallStatus": "completed"}, kind="action")
    return None


async def attend(engine: Engine, conference: Conference, p: Participant) -> None:
    """Be in the room until p leaves it: wait music before the start, hold music on hold, else the others."""
    talk = p.call.person.talk_seconds()
    quitter = engine.spawn(_hang_up_after(engine, p.call, talk)) if talk is not None else None
    try:
        while not p.left.is_set():
            p.changed.clear()
            player = None
            if p.hold:
                player = engine.spawn(_music(engine, conference, p.call, p.hold_url, p.hold_method, "hold"))
            elif conference.status == "init":
                player = engine.spawn(_music(engine, conference, p.call, p.wait_url, p.wait_method, "wait"))
            try:
                await p.changed.wait()
            finally:
                if player is not None:
                    player.cancel()
    finally:
        if quitter is not None:
            quitter.cancel()


async def _hang_up_after(engine: Engine, call: Call, seconds: float) -> None:
    await engine.clock.sleep(seconds)
    engine.hangup(call, by="caller" if call.direction == "inbound" else "callee")


async def _music(engine: Engine, conference: Conference, call: Call, url: str | None, method: str, kind: str) -> None:
    """waitUrl / holdUrl: only Play, Say, Pause and Redirect are followed; when the document runs out, silence
    (the Conference docs: "Once the TwiML document located at the waitUrl runs out of verbs to execute, silence
    will be played"; a <Redirect> loops it). No URL: Twilio's default music; an empty URL: silence."""
    if url is None:
        while True:
            call.record(engine.clock.now(), "play", url=DEFAULT_HOLD_MUSIC, hold_music=True, music=kind)
            await engine.clock.sleep(30)
    if url:
        params = {"ConferenceSid": conference.sid, "FriendlyName": conference.friendly_name}
        await twiml.run_program(engine, call, Fetch(url, method, params, kind=kind), "conference-wait")
    await asyncio.Event().wait()  # silence until the participant's state changes


# legs dialled by the Participants resource ---------------------------------------------------
async def participant_leg(engine: Engine, conference: Conference, p: Participant, timeout: float) -> None:
    """A leg created by POST …/Participants: paced, rung, then in the room until it leaves; no TwiML of its own
    (a REST redirect of its call takes it out of the room to the new TwiML)."""
    call = p.call
    try:
        await engine.paced(call)
        p.status = "connecting"
        if not await _ring(engine, call, timeout):
            conference.leave(p, "participant_add_failed")
            return
        if conference.status == "completed" or p not in conference.participants:
            engine.end(call, "completed", by="twilio")
            return
        conference.add(p)
        await attend(engine, conference, p)
        engine.end(call, "completed", by="twilio")  # out of the room, and no TwiML to go on with
        return
    except asyncio.CancelledError:
        twiml.uncancel()
        if engine.closing:
            raise
    redirected = call.pending is not None and call.pending.kind == "redirect"
    if p in conference.participants:
        conference.leave(p, "participant_updated_via_api" if redirected else
                         "participant_hung_up" if p.in_room else "participant_add_failed")
    nxt = await twiml.after_interrupt(engine, call)
    if nxt is not None:
        await twiml.drive(engine, call, nxt)


async def _ring(engine: Engine, call: Call, timeout: float) -> bool:
    from .dial import ring

    return await ring(engine, call, timeout=timeout)


def add_participant(engine: Engine, conference: Conference, p_settings: dict[str, object], *, to: str, from_: str,
                    timeout: float, status_callback: StatusCallbackSpec | None) -> Participant:
    """POST …/Participants: a new outbound-api leg to `to`, paced by calls per second, rung for `timeout`
    seconds, that joins the room when answered. p_settings are Participant fields (label, muted, beep, …)."""
    phone = engine.phones.get(to)
    call = engine.new_call(from_=from_, to=to, direction="outbound-api", person=phone.person() if phone else None,
                           status_callback=status_callback)
    engine.reserve_start(call)
    now = engine.clock.now()
    p = Participant(call=call, status="queued", created_at=now, updated_at=now,
                    queue_time_ms=int(round((call.start_at - now) * 1000)), **p_settings)  # type: ignore[arg-type]
    conference.participants.append(p)
    conference.record(now, "participant_added", call_sid=call.sid, label=p.label, to=to)
    call.runner = engine.spawn(engine._run_leg(call, participant_leg(engine, conference, p, timeout)))
    return p


# announcements -------------------------------------------------------------------------------


def announce(engine: Engine, conference: Conference, target: Participant | None, url: str, method: str) -> None:
    """AnnounceUrl on the conference (every participant not on hold hears it) or on one participant."""
    engine.spawn(_announce(engine, conference, target, url, method))


async def _announce(engine: Engine, conference: Conference, target: Participant | None, url: str,
                    method: str) -> None:
    params = {"AccountSid": engine.config.account_sid, "ConferenceSid": conference.sid,
              "FriendlyName": conference.friendly_name}
    if target is not None:
        params["CallSid"] = target.sid
    result = await engine.http.send(conference, url, method, params, "announce")
    try:
        root = ET.fromstring(result.text.strip()) if result.ok else None
    except ET.ParseError:
        root = None
    extra = {"AnnounceUrl": url}
    if root is None or root.tag != "Response":
        conference.callback("announcement-fail", target, **extra,
                            ReasonAnnouncementFailed=result.error or f"could not use the AnnounceUrl document ({result.status})")
        return
    config = engine.config
    steps: list[tuple[str, str, float]] = []  # (kind, what, seconds)
    for el in root:
        if el.tag == "Say":
            steps.append(("say", text_of(el), len(text_of(el)) * config.say_seconds_per_char))
        elif el.tag == "Play":
            steps.append(("play", text_of(el), config.play_seconds))
        elif el.tag == "Pause":
            steps.append(("pause", "", float(el.get("length", "1") or 1)))
    now = engine.clock.now()
    conference.record(now, "announcement", url=url, to=target.sid if target is not None else None,
                      said=[what for kind, what, _ in steps if kind == "say"])
    if target is not None:
        target.announcing = True
    else:
        conference.announcing = True
    conference.refresh()
    try:
        for kind, what, seconds in steps:
            listeners = [target] if target is not None else [p for p in conference.joined if not p.hold]
            for p in listeners:
                if kind == "say":
                    p.call.record(engine.clock.now(), "say", text=what, voice="man", language="en-US", announcement=True)
                elif kind == "play":
                    p.call.record(engine.clock.now(), "play", url=what, announcement=True)
            await engine.clock.sleep(seconds)
    finally:
        if target is not None:
            target.announcing = False
        else:
            conference.announcing = False
        conference.refresh()
    if conference.status != "completed":
        conference.callback("announcement-end", target, **extra)
