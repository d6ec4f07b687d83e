"""The caseworker's verdict: once the liaison has left and the caller is still on the line, one question.

Only on a line whose directory entry sets `verdict_question`, only after a conversation (the call ended
answered), and only once per call (the `verdict_asked` event is written once). The answer is one key,
one try: 1, 2 or 3 is recorded; silence, another key or a hang-up records nothing (domain/evaluation.py).
"""

from __future__ import annotations

import logging

from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.calls import CallState, EventKind, Outcome
from callrouter.domain.evaluation import read_verdict
from callrouter.domain.voice import Gather, Hangup, VoiceReply
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import StepInput, StepResult

log = logging.getLogger("callrouter.voice")
_ENDED = frozenset({CallState.ENDED})


def ask(deps: CallDeps, given: StepInput) -> StepResult:
    """Reached after the end of a conversation with the caller still on the line: ask, or hang up."""
    record = given.record or deps.calls.get(given.call_sid)
    if record is None or record.outcome != Outcome.ANSWERED or record.callback_id is not None:
        return VoiceReply.of(Hangup())
    line = deps.directory.line_by_number(record.line_number)
    if line is None or not line.verdict_question:
        return VoiceReply.of(Hangup())
    asked = deps.calls.apply(record.sid, event=EventKind.VERDICT_ASKED, at=deps.clock.now(), dedupe="verdict_asked",
                             only_in=_ENDED)
    if asked is None:  # asked before (a repeated dial result): never twice
        return VoiceReply.of(Hangup())
    flow = deps.flow_for(record.line_kind)
    return VoiceReply.of(Gather(action=Goto.to(Step.VERDICT_ANSWER), prompts=(flow.say("verdict_question", record.language),),
                                timeout=flow.timeout_seconds, num_digits=1, action_on_empty_result=True))


def answer(deps: CallDeps, given: StepInput) -> StepResult:
    """The key after the question: 1-3 is recorded once; anything else records nothing. Then goodbye."""
    record = given.record or deps.calls.get(given.call_sid)
    if record is None or record.state != CallState.ENDED:
        return VoiceReply.of(Hangup())
    if EventKind.VERDICT_ASKED not in {event.kind for event in deps.calls.events(record.sid)}:
        return VoiceReply.of(Hangup())  # never asked: a forged or stray request records nothing
    flow = deps.flow_for(record.line_kind)
    verdict = read_verdict(given.digits)
    if verdict is None:
        log.info("voice.verdict_none call_sid=%s", record.sid)
        return VoiceReply.of(flow.say("verdict_goodbye", record.language), Hangup())
    deps.calls.apply(record.sid, event=EventKind.VERDICT, at=deps.clock.now(), detail={"answer": verdict.value},
                     dedupe="verdict", only_in=_ENDED)
    log.info("voice.verdict call_sid=%s answer=%s", record.sid, verdict.value)
    return VoiceReply.of(flow.say("verdict_thanks", record.language), Hangup())
