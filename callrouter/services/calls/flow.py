"""The call flow: which handler runs each step, and where a stale or repeated request resumes a call.

A request runs one step; a handler that answers `Next(step)` has the flow run that step next, in the
same request (at most MAX_HOPS), and one that answers `Stale` has the call resumed at the step that
RESUME names for its state. A new step is one line in HANDLERS, one in RESUME if calls can rest in it,
and one module under steps/ that imports no other step.
"""

from __future__ import annotations

import logging

from callrouter.domain import ivr
from callrouter.domain.call_flow import Step
from callrouter.domain.calls import CallRecord, CallState
from callrouter.domain.voice import Hangup, VoiceReply
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Handler, Next, Stale, StepInput
from callrouter.services.calls.steps import (
    callback_agent,
    callback_request,
    case_reference,
    connected,
    consult,
    end,
    identification,
    menus,
    offer,
    opening,
    queue,
    verdict,
)

log = logging.getLogger("callrouter.voice")
MAX_HOPS = 12

HANDLERS: dict[Step, Handler] = {
    Step.INCOMING: identification.incoming,
    Step.PIN: identification.pin,
    Step.CASE_REFERENCE: case_reference.case_reference,
    Step.MENU: menus.menu,
    Step.OPENING: opening.opening,
    Step.QUEUE: queue.queue,
    Step.WAIT: queue.wait,
    Step.QUEUE_EXIT: queue.queue_exit,
    Step.CONNECT: offer.connect,
    Step.WHISPER: offer.whisper,
    Step.LIAISON_LEG: connected.liaison_leg,
    Step.DIAL_RESULT: connected.dial_result,
    Step.ROOM_HOLD: connected.room_hold,
    Step.ROOM_JOIN: offer.room_join,
    Step.ROOM_EVENT: connected.room_event,
    Step.ROOM_LEFT: connected.room_left,
    Step.BACK_IN_LINE: queue.back_in_line,
    Step.CONVERSATION_END: connected.conversation_end,
    Step.TRANSFERRED: queue.transferred,
    Step.CONSULT_HOLD: consult.consult_hold,
    Step.CONSULT_WHISPER: consult.consult_whisper,
    Step.CONSULT_LEG: consult.consult_leg,
    Step.END: end.end,
    Step.STATUS: end.status,
    Step.VERDICT: verdict.ask,
    Step.VERDICT_ANSWER: verdict.answer,
    Step.CALLBACK_OFFER: callback_request.accept_in_queue,
    Step.CALLBACK_DIALOGUE: callback_request.dialogue,
    Step.CALLBACK_LIAISON: callback_agent.liaison_answers,
    Step.CALLBACK_LIAISON_CHOICE: callback_agent.liaison_choice,
    Step.CALLBACK_DIALLED: callback_agent.caller_dialled,
    Step.CALLBACK_LEG_STATUS: callback_agent.liaison_leg_ended,
}

# Where a call in each state resumes when a request does not fit it (late, repeated, out of order):
# the step says again what the caller should hear there. An ended call hangs up.
RESUME: dict[CallState, Step] = {
    CallState.IDENTIFYING: Step.PIN,
    CallState.MENU: Step.MENU,  # or its case-reference question: resume_step
    CallState.QUEUED: Step.QUEUE,
    CallState.OFFERED: Step.QUEUE,
    CallState.CONNECTED: Step.QUEUE,
    CallState.CALLBACK: Step.CALLBACK_DIALOGUE,
}


def resume_step(record: CallRecord) -> Step | None:
    if record.state == CallState.MENU and record.menu_step == ivr.CASE_REFERENCE_STEP:
        return Step.CASE_REFERENCE
    return RESUME.get(record.state)


def run(deps: CallDeps, step: Step, given: StepInput) -> VoiceReply:
    """Run `step` for this request, and the steps it continues with; the reply to send."""
    result = HANDLERS[step](deps, given)
    for _ in range(MAX_HOPS):
        if isinstance(result, VoiceReply):
            return result
        if isinstance(result, Next):
            step, given = result.step, result.input_after(given)
        else:
            resumed = _resume(result)
            if resumed is None:
                return VoiceReply.of(Hangup())
            step, given = resumed, StepInput(call_sid=given.call_sid, record=result.record, resume=True)
        result = HANDLERS[step](deps, given)
    if isinstance(result, VoiceReply):
        return result
    log.error("voice.flow_loop step=%s call_sid=%s", step.value, given.call_sid)
    raise RuntimeError(f"the call flow did not settle within {MAX_HOPS} steps (last: {step.value})")


def _resume(stale: Stale) -> Step | None:
    record = stale.record
    if record is None or record.state == CallState.ENDED:
        return None
    return resume_step(record)
