"""A callback's liaison leg (agent-first): who asked and why, the voice message, then 1 to call now,
2 to postpone; then the caller's leg, and the end of the liaison's leg."""

from __future__ import annotations

from datetime import timedelta

from callrouter.domain.call_flow import DialEnd, Goto, Step
from callrouter.domain.callbacks import CallbackState, router_member
from callrouter.domain.voice import Dial, Gather, Hangup, Pause, Play, Say, VoiceReply
from callrouter.services.callbacks import lifecycle as service
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import topic_name
from callrouter.services.calls.step import StepInput, StepResult


def liaison_answers(deps: CallDeps, given: StepInput) -> StepResult:
    callback = service.current_attempt(deps, callback_id=given.callback_id or 0, attempt=given.attempt or 0,
                                       liaison_id=given.liaison_id)
    if callback is None:
        return VoiceReply.of(Hangup())
    attempt = callback.attempts
    if callback.attempt_call_sid is None:  # the worker died before it could note the sid: the network tells us
        deps.callbacks.move(callback.id, to=CallbackState.DIALLING, cause="liaison leg seen", at=deps.clock.now(),
                            expect=frozenset({CallbackState.DIALLING}), expect_attempts=attempt,
                            attempt_call_sid=given.call_sid)
    flow = deps.flow_for("professional")
    location = deps.directory.location(callback.location or "")
    org = deps.directory.organisation(callback.organisation)
    topic = topic_name(deps, organisation=callback.organisation, topic=callback.topic, language="nl")
    said: list[Say | Play | Pause] = [flow.say("callback_liaison_intro", "nl",
                                               location=location.name if location else "onbekend",
                                               organisation=org.name if org else callback.organisation, topic=topic)]
    if callback.voice_message_url:
        said += [flow.say("callback_liaison_message", "nl"), Play(callback.voice_message_url)]
    said.append(flow.say("callback_liaison_choice", "nl"))
    return VoiceReply.of(Gather(action=Goto.to(Step.CALLBACK_LIAISON_CHOICE, cb=callback.id, a=attempt, l=callback.liaison_id),
                                prompts=tuple(said), timeout=8, num_digits=1, action_on_empty_result=True))


def liaison_choice(deps: CallDeps, given: StepInput) -> StepResult:
    callback = service.current_attempt(deps, callback_id=given.callback_id or 0, attempt=given.attempt or 0,
                                       liaison_id=given.liaison_id)
    if callback is None:
        return VoiceReply.of(Hangup())
    attempt = callback.attempts
    flow = deps.flow_for("professional")
    if (given.digits or "").strip()[:1] == "1":
        return VoiceReply.of(Dial(address=callback.phone_number,
                                  action=Goto.to(Step.CALLBACK_DIALLED, cb=callback.id, a=attempt, l=callback.liaison_id),
                                  timeout=deps.dial_timeout_seconds, caller_id=callback.line_number))
    until = deps.clock.now() + timedelta(seconds=deps.callback_policy.postpone_seconds)
    service.postpone(deps, callback_id=callback.id, until=until, note="postponed by the liaison",
                     expect_attempts=attempt)
    if callback.liaison_id is not None:
        service.release(deps, organisation=callback.organisation, liaison_id=callback.liaison_id,
                        member=router_member(callback.id))
    return VoiceReply.of(flow.say("callback_liaison_postponed", "nl"), Hangup())


def caller_dialled(deps: CallDeps, given: StepInput) -> StepResult:
    callback = service.current_attempt(deps, callback_id=given.callback_id or 0, attempt=given.attempt or 0,
                                       liaison_id=given.liaison_id)
    if callback is None:
        return VoiceReply.of(Hangup())
    if given.dial == DialEnd.TALKED:
        service.caller_reached(deps, callback=callback)
        service.record_conversation(deps, callback=callback, leg_sid=given.call_sid or None,
                                    talk_seconds=given.talk_seconds)
        return VoiceReply.of(Hangup())
    service.caller_not_reached(deps, callback=callback, status=(given.dial or DialEnd.FAILED).value)
    return VoiceReply.of(deps.flow_for("professional").say("callback_liaison_no_answer", "nl"), Hangup())


def liaison_leg_ended(deps: CallDeps, given: StepInput) -> StepResult:
    """The liaison's leg ended: not answered means back in line (liaison away); otherwise the liaison is free."""
    if given.leg is None or not given.leg.ended:
        return VoiceReply()
    callback = deps.callbacks.get(given.callback_id or 0)
    if callback is None or callback.liaison_id is None:
        return VoiceReply()
    if callback.attempts != given.attempt or (given.liaison_id is not None and callback.liaison_id != given.liaison_id):
        return VoiceReply()  # a late or repeated report of an earlier attempt: that attempt's liaison was settled then
    if callback.state == CallbackState.DIALLING:
        # The liaison never chose (did not answer, or hung up before pressing a key).
        service.back_in_line(deps, callback, liaison_id=callback.liaison_id, cause=f"liaison leg {given.leg.value}")
        return VoiceReply()
    if callback.state == CallbackState.COMPLETED:  # the caller was reached: wrap-up, as after a call
        service.release_after_conversation(deps, callback=callback, liaison_id=callback.liaison_id)
        return VoiceReply()
    service.release(deps, organisation=callback.organisation, liaison_id=callback.liaison_id,
                    member=router_member(callback.id))
    return VoiceReply()


