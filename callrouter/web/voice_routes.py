"""Twilio's voice webhooks. Each route parses Twilio's fields and calls one service function."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from callrouter.services import callback_flow, case_flow, queue_flow, voice
from callrouter.services.voice import VoiceDeps
from callrouter.web.twilio_webhook import MissingField, TwilioRequest, WebhookEdge


def _liaison(req: TwilioRequest) -> int:
    value = req.integer("liaison", source="query")
    if value is None:
        raise MissingField("liaison (query)")
    return value


def incoming(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    return voice.incoming(deps, call_sid=req.field("CallSid"), from_number=req.field("From"), to_number=req.field("To"))


def pin(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    return voice.pin_entered(deps, call_sid=req.field("CallSid"), digits=req.form.get("Digits", ""))


def menu(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    step = req.query.get("step", "")
    if step not in ("organisation", "topic"):
        raise MissingField("step (query: organisation or topic)")
    return voice.menu_key(deps, call_sid=req.field("CallSid"), step=step, digits=req.form.get("Digits"))


def case_reference(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    return case_flow.case_reference_entered(deps, call_sid=req.field("CallSid"), digits=req.form.get("Digits"))


def wait(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    return queue_flow.wait(deps, call_sid=req.field("CallSid"), queue_seconds=float(req.integer("QueueTime") or 0))


def queue_exit(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    return queue_flow.queue_exit(deps, call_sid=req.field("CallSid"), result=req.form.get("QueueResult", ""))


def connect(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    return queue_flow.connect(deps, call_sid=req.field("CallSid"), liaison_id=_liaison(req))


def whisper(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    call = req.query.get("call", "")
    if not call:
        raise MissingField("call (query)")
    return queue_flow.whisper(deps, call_sid=call)


def dial_result(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    return queue_flow.dial_result(deps, call_sid=req.field("CallSid"), liaison_id=_liaison(req),
                                  status=req.field("DialCallStatus"), duration=req.integer("DialCallDuration"))


def liaison_status(deps: VoiceDeps, req: TwilioRequest) -> None:
    call = req.query.get("call", "")
    if not call:
        raise MissingField("call (query)")
    queue_flow.liaison_leg(deps, call_sid=call, liaison_id=_liaison(req), status=req.field("CallStatus"))


def status(deps: VoiceDeps, req: TwilioRequest) -> None:
    queue_flow.call_status(deps, call_sid=req.field("CallSid"), status=req.field("CallStatus"),
                           sequence=req.integer("SequenceNumber"))


def _callback_query(req: TwilioRequest) -> tuple[int, int]:
    callback, attempt = req.integer("cb", source="query"), req.integer("a", source="query")
    if callback is None or attempt is None:
        raise MissingField("cb and a (query)")
    return callback, attempt


def callback_offer(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    return callback_flow.accept_in_queue(deps, call_sid=req.field("CallSid"), digits=req.form.get("Digits", ""),
                                         from_number=req.field("From"))


def callback_dialogue(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    step = req.query.get("step", "")
    if step not in ("closed", "nobody", "slot", "number", "enter", "recorded"):
        raise MissingField("step (query)")
    return callback_flow.dialogue(deps, call_sid=req.field("CallSid"), step=step, digits=req.form.get("Digits", ""),
                                  from_number=req.field("From"), callback_id=req.integer("cb", source="query"),
                                  recording_url=req.form.get("RecordingUrl") or None)


def callback_liaison(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    callback, attempt = _callback_query(req)
    return callback_flow.liaison_answers(deps, callback_id=callback, attempt=attempt, call_sid=req.field("CallSid"))


def callback_liaison_choice(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    callback, attempt = _callback_query(req)
    return callback_flow.liaison_choice(deps, callback_id=callback, attempt=attempt, digits=req.form.get("Digits", ""))


def callback_dialled(deps: VoiceDeps, req: TwilioRequest):  # type: ignore[no-untyped-def]
    callback, attempt = _callback_query(req)
    return callback_flow.caller_dialled(deps, callback_id=callback, attempt=attempt, status=req.field("DialCallStatus"))


def callback_leg_status(deps: VoiceDeps, req: TwilioRequest) -> None:
    callback, attempt = _callback_query(req)
    callback_flow.liaison_leg_status(deps, callback_id=callback, attempt=attempt, status=req.field("CallStatus"))


VOICE = {"incoming": incoming, "pin": pin, "menu": menu, "case-reference": case_reference, "wait": wait, "queue-exit": queue_exit,
         "connect": connect, "whisper": whisper, "dial-result": dial_result,
         "callback/offer": callback_offer, "callback/dialogue": callback_dialogue,
         "callback/liaison": callback_liaison, "callback/liaison-choice": callback_liaison_choice,
         "callback/dialled": callback_dialled}
CALLBACKS = {"status": status, "liaison-status": liaison_status, "callback/leg-status": callback_leg_status}


def voice_router(edge: WebhookEdge) -> APIRouter:
    router = APIRouter(prefix="/twilio/voice", include_in_schema=False)

    def bind(name: str, handler, *, is_voice: bool) -> None:  # type: ignore[no-untyped-def]
        async def endpoint(request: Request) -> Response:
            return await edge.handle(request, handler, voice=is_voice)

        endpoint.__name__ = f"twilio_{name.replace('-', '_').replace('/', '_')}"
        router.add_api_route(f"/{name}", endpoint, methods=["POST"])

    for name, handler in VOICE.items():
        bind(name, handler, is_voice=True)
    for name, handler in CALLBACKS.items():
        bind(name, handler, is_voice=False)
    return router
