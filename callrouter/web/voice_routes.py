"""Twilio's voice webhooks: each path (web/voice_paths.py) is one step of the call flow.

A route reads Twilio's fields, translates Twilio's words (CallStatus, DialCallStatus, QueueResult)
into the service's own (domain/call_flow.py), and runs the step; nothing below web/ knows them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime

from fastapi import APIRouter, Request, Response

from callrouter.domain.call_flow import DialEnd, LegStatus, QueueExit, RoomEvent, Step
from callrouter.domain.voice import VoiceReply
from callrouter.services.calls import flow
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import StepInput
from callrouter.services.calls.steps.callback_request import PARTS
from callrouter.services.calls.steps.menus import MENUS
from callrouter.web.twilio_webhook import TURN_PREFIX, MissingField, TwilioRequest, WebhookEdge
from callrouter.web.voice_paths import PATHS, PREFIX

LEG_STATUS = {"queued": LegStatus.STARTING, "initiated": LegStatus.STARTING, "ringing": LegStatus.STARTING,
              "in-progress": LegStatus.ANSWERED, "answered": LegStatus.ANSWERED, "completed": LegStatus.COMPLETED,
              "busy": LegStatus.BUSY, "no-answer": LegStatus.NOT_ANSWERED, "failed": LegStatus.FAILED,
              "canceled": LegStatus.CANCELLED}
DIAL_END = {"completed": DialEnd.TALKED, "answered": DialEnd.TALKED, "busy": DialEnd.BUSY,
            "no-answer": DialEnd.NOT_ANSWERED, "failed": DialEnd.FAILED, "canceled": DialEnd.CANCELLED}
QUEUE_EXIT = {"leave": QueueExit.LEFT, "hangup": QueueExit.HUNG_UP, "error": QueueExit.FAILED,
              "system-error": QueueExit.FAILED, "queue-full": QueueExit.FAILED, "bridged": QueueExit.MOVED_ON,
              "redirected": QueueExit.MOVED_ON, "bridging-in-process": QueueExit.MOVED_ON}
# Conference status callbacks (StatusCallbackEvent); other events (mute, hold, speaker...) are noted as nothing.
ROOM_EVENT = {"conference-start": RoomEvent.STARTED, "conference-end": RoomEvent.ENDED,
              "participant-join": RoomEvent.JOINED, "participant-leave": RoomEvent.LEFT}

Reader = Callable[[TwilioRequest], StepInput]


def _query_int(req: TwilioRequest, name: str) -> int:
    value = req.integer(name, source="query")
    if value is None:
        raise MissingField(f"{name} (query)")
    return value


def _query_text(req: TwilioRequest, name: str, allowed: tuple[str, ...] | None = None) -> str:
    value = req.optional(name, source="query")
    if not value or (allowed is not None and value not in allowed):
        raise MissingField(f"{name} (query{': ' + ', '.join(allowed) if allowed else ''})")
    return value


def _leg(req: TwilioRequest) -> LegStatus:
    word = req.field("CallStatus")
    if word not in LEG_STATUS:
        raise MissingField(f"CallStatus (unknown value {word[:20]!r})")
    return LEG_STATUS[word]


def _dial_end(req: TwilioRequest) -> DialEnd:
    ended = DIAL_END.get(req.field("DialCallStatus"), DialEnd.FAILED)  # an unknown word: as a failed dial
    # Picked up, then hung up before the bridge (during the whisper): Twilio says completed, not bridged.
    if ended == DialEnd.TALKED and req.optional("DialBridged").lower() == "false":
        return DialEnd.NOT_BRIDGED
    return ended


def _timestamp(req: TwilioRequest) -> datetime | None:
    """When Twilio says the status changed (RFC 2822); a late delivery keeps its own time."""
    raw = req.optional("Timestamp")
    if not raw:
        return None
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else None


def _digits_or_none(req: TwilioRequest) -> str | None:
    """Digits as sent, checked; None when Twilio sent no Digits field at all (not the same as silence)."""
    return None if req.form.get("Digits") is None else req.optional("Digits")


def _via(req: TwilioRequest) -> str:
    """'room': a liaison leg placed into the call's conference (the conference bridge); '' for a <Dial> leg."""
    return "room" if req.optional("via", source="query") == "room" else ""


def _room_event(req: TwilioRequest) -> StepInput:
    event = ROOM_EVENT.get(req.optional("StatusCallbackEvent"))
    return StepInput(call_sid=_query_text(req, "call"), choice=event.value if event else "",
                     member=req.optional("CallSid") or None, sequence=req.integer("SequenceNumber"),
                     room_sid=req.optional("ConferenceSid") or None,
                     at=_timestamp(req))


def _callback(req: TwilioRequest) -> tuple[int, int]:
    return _query_int(req, "cb"), _query_int(req, "a")


def _menu(req: TwilioRequest) -> StepInput:
    return StepInput(call_sid=req.field("CallSid"), choice=_query_text(req, "step", MENUS),
                     digits=_digits_or_none(req))


def _dialogue(req: TwilioRequest) -> StepInput:
    return StepInput(call_sid=req.field("CallSid"), choice=_query_text(req, "step", PARTS),
                     digits=req.optional("Digits"), from_number=req.field("From"),
                     callback_id=req.integer("cb", source="query"), recording_url=req.optional("RecordingUrl") or None)


def _callback_leg(req: TwilioRequest, **fields: object) -> StepInput:
    callback, attempt = _callback(req)
    return StepInput(callback_id=callback, attempt=attempt, liaison_id=req.integer("l", source="query"),
                     **fields)  # type: ignore[arg-type]


READERS: dict[Step, Reader] = {
    Step.INCOMING: lambda r: StepInput(call_sid=r.field("CallSid"), from_number=r.field("From"), to_number=r.field("To")),
    Step.PIN: lambda r: StepInput(call_sid=r.field("CallSid"), digits=r.optional("Digits"),
                                  from_number=r.optional("From") or ""),
    Step.MENU: _menu,
    Step.CASE_REFERENCE: lambda r: StepInput(call_sid=r.field("CallSid"), digits=_digits_or_none(r)),
    Step.WAIT: lambda r: StepInput(call_sid=r.field("CallSid"), queue_seconds=float(r.integer("QueueTime") or 0)),
    Step.QUEUE_EXIT: lambda r: StepInput(call_sid=r.field("CallSid"), choice=r.optional("QueueResult"),
                                         queue_exit=QUEUE_EXIT.get(r.optional("QueueResult"))),
    Step.CONNECT: lambda r: StepInput(call_sid=r.field("CallSid"), liaison_id=_query_int(r, "liaison")),
    Step.WHISPER: lambda r: StepInput(call_sid=_query_text(r, "call"), liaison_id=r.integer("liaison", source="query"),
                                      choice=_via(r)),
    Step.DIAL_RESULT: lambda r: StepInput(call_sid=r.field("CallSid"), liaison_id=_query_int(r, "liaison"),
                                          dial=_dial_end(r), talk_seconds=r.integer("DialCallDuration")),
    Step.LIAISON_LEG: lambda r: StepInput(call_sid=_query_text(r, "call"), liaison_id=_query_int(r, "liaison"),
                                          leg=_leg(r), at=_timestamp(r), choice=_via(r),
                                          member=r.optional("CallSid") or None),
    Step.ROOM_HOLD: lambda r: StepInput(call_sid=r.field("CallSid"), room_sid=r.optional("ConferenceSid") or None),
    Step.ROOM_JOIN: lambda r: StepInput(call_sid=_query_text(r, "call"), liaison_id=_query_int(r, "liaison"),
                                        member=r.optional("CallSid") or None),
    Step.ROOM_EVENT: _room_event,
    Step.ROOM_LEFT: lambda r: StepInput(call_sid=r.field("CallSid"), liaison_id=_query_int(r, "liaison"),
                                        leg=LEG_STATUS.get(r.optional("CallStatus")),
                                        options=(("offer", r.integer("offer", source="query")),)),
    Step.BACK_IN_LINE: lambda r: StepInput(call_sid=r.field("CallSid")),
    Step.TRANSFERRED: lambda r: StepInput(call_sid=r.field("CallSid")),
    Step.CONSULT_HOLD: lambda r: StepInput(call_sid=r.field("CallSid"),
                                           choice="again" if r.optional("again", source="query") else ""),
    Step.CONSULT_WHISPER: lambda r: StepInput(call_sid=_query_text(r, "call"), liaison_id=_query_int(r, "liaison")),
    Step.CONSULT_LEG: lambda r: StepInput(call_sid=_query_text(r, "call"), liaison_id=_query_int(r, "liaison"),
                                          leg=_leg(r), at=_timestamp(r)),
    Step.STATUS: lambda r: StepInput(call_sid=r.field("CallSid"), leg=_leg(r), sequence=r.integer("SequenceNumber"),
                                     at=_timestamp(r)),
    Step.VERDICT_ANSWER: lambda r: StepInput(call_sid=r.field("CallSid"), digits=_digits_or_none(r)),
    Step.CALLBACK_OFFER: lambda r: StepInput(call_sid=r.field("CallSid"), digits=r.optional("Digits"),
                                             from_number=r.field("From")),
    Step.CALLBACK_DIALOGUE: _dialogue,
    Step.CALLBACK_LIAISON: lambda r: _callback_leg(r, call_sid=r.field("CallSid")),
    Step.CALLBACK_LIAISON_CHOICE: lambda r: _callback_leg(r, digits=r.optional("Digits")),
    Step.CALLBACK_DIALLED: lambda r: _callback_leg(r, dial=_dial_end(r), call_sid=r.optional("CallSid"),
                                                   talk_seconds=r.integer("DialCallDuration")),
    Step.CALLBACK_LEG_STATUS: lambda r: _callback_leg(r, leg=_leg(r), at=_timestamp(r)),
}
# Status callbacks: Twilio reads no TwiML from their answers.
STATUS_CALLBACKS = frozenset({Step.STATUS, Step.LIAISON_LEG, Step.CALLBACK_LEG_STATUS, Step.ROOM_EVENT,
                              Step.CONSULT_LEG})


def handler_for(step: Step) -> Callable[[CallDeps, TwilioRequest], VoiceReply]:
    read = READERS[step]

    def handle(deps: CallDeps, req: TwilioRequest) -> VoiceReply:
        return flow.run(deps, step, read(req))

    return handle


def voice_router(edge: WebhookEdge) -> APIRouter:
    """Each step at PREFIX + its path, as configured on the numbers, and under a turn (TURN_PREFIX),
    as handed out in TwiML (the turn only makes Twilio sign each turn's URL differently)."""
    router = APIRouter(include_in_schema=False)

    def bind(step: Step) -> None:
        handler, is_voice = handler_for(step), step not in STATUS_CALLBACKS

        async def endpoint(request: Request) -> Response:
            return await edge.handle(request, handler, voice=is_voice)

        endpoint.__name__ = f"twilio_{step.value}"
        router.add_api_route(PREFIX + PATHS[step], endpoint, methods=["POST"])
        router.add_api_route(TURN_PREFIX + PREFIX + PATHS[step], endpoint, methods=["POST"])

    missing = set(PATHS) - set(READERS)
    if missing:
        raise RuntimeError(f"webhook steps without a reader: {sorted(s.value for s in missing)}")
    for step in PATHS:
        bind(step)
    return router
