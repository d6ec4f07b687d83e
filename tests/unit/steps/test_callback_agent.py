"""steps/callback_agent.py: a callback's liaison leg (agent-first): who asked, 1 call now / 2 later, the caller's
leg, the end of the liaison's leg."""

from __future__ import annotations

from datetime import timedelta

from callrouter.domain.call_flow import DialEnd, Goto, LegStatus, Step
from callrouter.domain.callbacks import Callback, CallbackOrigin, CallbackState
from callrouter.domain.calls import CallState, EventKind, Outcome
from callrouter.domain.directory import Liaison
from callrouter.domain.queueing import Presence
from callrouter.domain.statistics import StatsPolicy, call_facts
from callrouter.domain.statistics_totals import Totals
from callrouter.domain.voice import Dial, Hangup, Play, VoiceReply
from callrouter.services.callback_policy import CallbackPolicy
from callrouter.services.callbacks import lifecycle
from callrouter.services.calls import flow, routing
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.speech import ms
from callrouter.services.calls.step import StepInput
from callrouter.services.calls.steps import callback_agent
from tests.fakes import (
    EVA,
    JAN,
    PRO_LINE,
    SANNE_PHONE,
    fakes,
    gather_of,
    make_deps,
    on_duty,
    said,
    seed_call,
)

CALLER_SID = "CA-asked"


def dialling(deps: CallDeps, liaison: Liaison = JAN, *, message: str | None = None) -> Callback:
    """A caller asked for a callback in line; the router gave it to `liaison`; the worker placed attempt 1."""
    seed_call(deps, CALLER_SID, state=CallState.QUEUED, organisation="UWV", topic="ww",
              queued_at=deps.clock.now() - timedelta(seconds=60))
    flow.run(deps, Step.WAIT, StepInput(call_sid=CALLER_SID))
    flow.run(deps, Step.CALLBACK_OFFER, StepInput(call_sid=CALLER_SID, digits="1", from_number=SANNE_PHONE))
    [callback] = fakes(deps).callbacks.callbacks.values()
    if message:
        deps.callbacks.move(callback.id, to=CallbackState.SCHEDULED, cause="voice message", at=deps.clock.now(),
                            expect=frozenset({CallbackState.SCHEDULED}), voice_message_url=message)
    on_duty(deps, liaison)
    assert routing.dispatch(deps, org="UWV") == 1
    assert fakes(deps).jobs.attempts[-1] == (callback.id, liaison.id)
    assert lifecycle.start_attempt(deps, callback_id=callback.id, liaison_id=liaison.id)
    placed = deps.callbacks.get(callback.id)
    assert placed is not None and placed.state == CallbackState.DIALLING
    return placed


def at(callback: Callback, *, attempt: int | None = None, digits: str | None = None, dial: DialEnd | None = None,
       leg: LegStatus | None = None) -> StepInput:
    """A webhook of the callback's current attempt (or of `attempt`)."""
    return StepInput(call_sid=callback.attempt_call_sid or "", callback_id=callback.id,
                     attempt=callback.attempts if attempt is None else attempt, digits=digits, dial=dial, leg=leg)


def test_the_worker_calls_the_liaison_first() -> None:
    deps = make_deps()
    callback = dialling(deps)
    [created] = fakes(deps).telephony.created
    assert (created.to, created.from_, created.timeout) == (JAN.address, PRO_LINE.number, 20)
    assert created.answer == Goto.to(Step.CALLBACK_LIAISON, cb=callback.id, a=1, l=JAN.id)
    assert created.status == Goto.to(Step.CALLBACK_LEG_STATUS, cb=callback.id, a=1, l=JAN.id)
    assert (callback.attempts, callback.liaison_id, callback.attempt_call_sid) == (1, JAN.id, created.sid)


def test_the_liaison_hears_who_asked_and_chooses() -> None:
    deps = make_deps()
    callback = dialling(deps)
    reply = flow.run(deps, Step.CALLBACK_LIAISON, at(callback))
    gather = gather_of(reply)
    assert gather.action == Goto.to(Step.CALLBACK_LIAISON_CHOICE, cb=callback.id, a=1, l=callback.liaison_id)
    assert (gather.timeout, gather.num_digits, gather.action_on_empty_result) == (8, 1, True)
    assert said(reply) == ("Terugbelverzoek. Loket Amsterdam. UWV, WW-uitkering. "
                           "Toets 1 om nu te bellen. Toets 2 om het uit te stellen.")


def test_the_callers_voice_message_is_played_to_the_liaison() -> None:
    deps = make_deps()
    callback = dialling(deps, message="https://rec/msg.mp3")
    gather = gather_of(flow.run(deps, Step.CALLBACK_LIAISON, at(callback)))
    assert [type(p).__name__ for p in gather.prompts] == ["Say", "Say", "Play", "Say"]
    assert gather.prompts[2] == Play("https://rec/msg.mp3")
    assert said(VoiceReply.of(gather)) == ("Terugbelverzoek. Loket Amsterdam. UWV, WW-uitkering. Het bericht van de "
                                           "beller: Toets 1 om nu te bellen. Toets 2 om het uit te stellen.")


def test_a_pickup_the_worker_could_not_note_is_noted_from_the_webhook() -> None:
    deps = make_deps()
    callback = dialling(deps)
    deps.callbacks.move(callback.id, to=CallbackState.DIALLING, cause="test: sid lost", at=deps.clock.now(),
                        expect=frozenset({CallbackState.DIALLING}), attempt_call_sid=None)
    flow.run(deps, Step.CALLBACK_LIAISON, StepInput(call_sid="CA-liaison-leg", callback_id=callback.id, attempt=1))
    noted = deps.callbacks.get(callback.id)
    assert noted is not None and noted.attempt_call_sid == "CA-liaison-leg"


def test_a_webhook_of_another_attempt_hangs_up() -> None:
    deps = make_deps()
    callback = dialling(deps)
    for step in (Step.CALLBACK_LIAISON, Step.CALLBACK_LIAISON_CHOICE, Step.CALLBACK_DIALLED):
        assert flow.run(deps, step, at(callback, attempt=2, digits="1")).actions == (Hangup(),)
    assert flow.run(deps, Step.CALLBACK_LIAISON, StepInput(callback_id=99, attempt=1)).actions == (Hangup(),)
    current = deps.callbacks.get(callback.id)
    assert current is not None and (current.state, current.attempts) == (CallbackState.DIALLING, 1)


def test_one_calls_the_caller_on_the_callback_number() -> None:
    deps = make_deps()
    callback = dialling(deps)
    reply = flow.run(deps, Step.CALLBACK_LIAISON_CHOICE, at(callback, digits="1"))
    assert reply.actions == (Dial(address=SANNE_PHONE, action=Goto.to(Step.CALLBACK_DIALLED, cb=callback.id, a=1, l=callback.liaison_id),
                                  timeout=20, caller_id=PRO_LINE.number),)


def test_two_postpones_and_frees_the_liaison() -> None:
    deps = make_deps()
    callback = dialling(deps)
    reply = flow.run(deps, Step.CALLBACK_LIAISON_CHOICE, at(callback, digits="2"))
    assert said(reply) == "Het terugbelverzoek is uitgesteld." and reply.actions[-1] == Hangup()
    until = deps.clock.now() + timedelta(seconds=900)
    postponed = deps.callbacks.get(callback.id)
    assert postponed is not None
    assert (postponed.state, postponed.due_at, postponed.note) == (
        CallbackState.REQUESTED, until, "postponed by the liaison")
    assert fakes(deps).jobs.due == [(callback.id, until)]
    router = fakes(deps).router
    assert router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    assert router.call_of_liaison(liaison_id=JAN.id, org="UWV") is None and router.line("UWV") == []
    assert fakes(deps).presence.status_of(JAN.id) == "available" and fakes(deps).after.orgs[-1] == "UWV"


def test_a_reached_caller_completes_the_callback_and_the_liaison_is_freed_when_their_leg_ends() -> None:
    deps = make_deps()
    callback = dialling(deps)
    assert flow.run(deps, Step.CALLBACK_DIALLED, at(callback, dial=DialEnd.TALKED)).actions == (Hangup(),)
    done = deps.callbacks.get(callback.id)
    assert done is not None and done.state == CallbackState.COMPLETED
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.BUSY  # until the leg ends
    assert flow.run(deps, Step.CALLBACK_LEG_STATUS, at(callback, leg=LegStatus.COMPLETED)) == VoiceReply()
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AVAILABLE
    assert fakes(deps).presence.status_of(JAN.id) == "available"


def test_a_caller_who_does_not_answer_is_tried_again_later_then_fails() -> None:
    deps = make_deps()
    callback = dialling(deps)
    reply = flow.run(deps, Step.CALLBACK_DIALLED, at(callback, dial=DialEnd.NOT_ANSWERED))
    assert said(reply) == "De beller neemt niet op. We proberen het later opnieuw." and reply.actions[-1] == Hangup()
    retry_at = deps.clock.now() + timedelta(seconds=300)
    retrying = deps.callbacks.get(callback.id)
    assert retrying is not None and (retrying.state, retrying.next_attempt_at) == (CallbackState.RETRY, retry_at)
    assert fakes(deps).jobs.due == [(callback.id, retry_at)]
    last = make_deps(callback_policy=CallbackPolicy(max_attempts=1))
    final = dialling(last)
    flow.run(last, Step.CALLBACK_DIALLED, at(final, dial=DialEnd.BUSY))
    failed = last.callbacks.get(final.id)
    assert failed is not None and failed.state == CallbackState.FAILED and fakes(last).jobs.due == []


def test_a_liaison_who_never_chose_puts_the_callback_back_in_line_and_goes_away() -> None:
    deps = make_deps()
    callback = dialling(deps)
    flow.run(deps, Step.CALLBACK_LEG_STATUS, at(callback, leg=LegStatus.NOT_ANSWERED))
    back = deps.callbacks.get(callback.id)
    assert back is not None and (back.state, back.attempts, back.attempt_call_sid) == (
        CallbackState.SCHEDULED, 0, None)
    router = fakes(deps).router
    assert router.line("UWV") == [f"cb:{callback.id}"]
    assert router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.AWAY
    assert fakes(deps).presence.status_of(JAN.id) == "away" and fakes(deps).after.orgs[-1] == "UWV"


def test_leg_reports_that_are_not_an_end_or_of_no_callback_change_nothing() -> None:
    deps = make_deps()
    callback = dialling(deps)
    for given in (at(callback, leg=LegStatus.ANSWERED), at(callback), StepInput(callback_id=99, attempt=1,
                                                                                leg=LegStatus.COMPLETED)):
        assert callback_agent.liaison_leg_ended(deps, given) == VoiceReply()
    assert deps.callbacks.get(callback.id) == callback
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.BUSY


def test_a_late_report_of_an_earlier_attempt_leaves_the_liaison_of_the_current_one_alone() -> None:
    """callback_agent.liaison_leg_ended: a report whose attempt is not the current one releases the callback's
    *current* liaison (member "cb:<id>" is the same for every attempt), so a repeated or late status callback of
    attempt 1 makes attempt 2's liaison available while their phone rings for the callback."""
    deps = make_deps()
    first = dialling(deps, JAN)
    flow.run(deps, Step.CALLBACK_DIALLED, at(first, dial=DialEnd.NOT_ANSWERED))  # the caller did not answer
    flow.run(deps, Step.CALLBACK_LEG_STATUS, at(first, leg=LegStatus.COMPLETED))  # Jan is free again
    fakes(deps).clock.advance(300)
    assert lifecycle.make_due(deps, callback_id=first.id)
    on_duty(deps, JAN, status=Presence.AWAY)
    on_duty(deps, EVA)
    assert routing.dispatch(deps, org="UWV") == 1
    assert lifecycle.start_attempt(deps, callback_id=first.id, liaison_id=EVA.id)
    second = deps.callbacks.get(first.id)
    assert second is not None and (second.attempts, second.liaison_id) == (2, EVA.id)
    flow.run(deps, Step.CALLBACK_LEG_STATUS, at(first, leg=LegStatus.COMPLETED))  # attempt 1's report, again
    assert fakes(deps).router.liaison_status(liaison_id=EVA.id, org="UWV") == Presence.BUSY
    assert fakes(deps).router.call_of_liaison(liaison_id=EVA.id, org="UWV") == f"cb:{first.id}"


def test_a_callback_conversation_gets_a_call_row_of_its_own_with_its_talk_time_and_the_case_of_the_request() -> None:
    deps = make_deps()
    callback = dialling(deps)
    given = at(callback, dial=DialEnd.TALKED)
    flow.run(deps, Step.CALLBACK_DIALLED, StepInput(call_sid=given.call_sid, callback_id=callback.id,
                                                    attempt=callback.attempts, dial=DialEnd.TALKED, talk_seconds=240))
    row = fakes(deps).calls.get(given.call_sid)
    assert row is not None and (row.state, row.outcome, row.callback_id) == (CallState.ENDED, Outcome.ANSWERED, callback.id)
    assert (row.organisation, row.topic, row.location, row.liaison_id) == ("UWV", "ww", "AMS", JAN.id)
    assert row.ended_at is not None and row.answered_at == row.ended_at - timedelta(seconds=240)
    assert fakes(deps).calls.kinds(given.call_sid) == [EventKind.CALLBACK_CONVERSATION, EventKind.ANSWERED,
                                                       EventKind.COMPLETED]
    assert fakes(deps).calls.same_case[given.call_sid] == CALLER_SID
    facts = call_facts([(e.kind, e.at, e.detail) for e in deps.calls.events(given.call_sid)])
    totals = Totals()
    totals.add_call(facts, StatsPolicy())
    assert (totals.received, totals.answered, totals.callback_conversations, totals.callback_talk_ms) == (0, 0, 1, 240_000)
    # a repeated dial result writes no second row
    flow.run(deps, Step.CALLBACK_DIALLED, StepInput(call_sid=given.call_sid, callback_id=callback.id,
                                                    attempt=callback.attempts, dial=DialEnd.TALKED, talk_seconds=240))
    assert len([r for r in fakes(deps).calls.records.values() if r.callback_id == callback.id]) == 1


def test_after_a_callback_conversation_the_liaison_wraps_up_as_after_a_call() -> None:
    deps = make_deps(wrap_up_seconds=60)
    callback = dialling(deps)
    flow.run(deps, Step.CALLBACK_DIALLED, at(callback, dial=DialEnd.TALKED))
    flow.run(deps, Step.CALLBACK_LEG_STATUS, at(callback, leg=LegStatus.COMPLETED))
    assert fakes(deps).router.liaison_status(liaison_id=JAN.id, org="UWV") == Presence.WRAP_UP
    assert fakes(deps).jobs.wrap_ups == [(JAN.id, deps.clock.now() + timedelta(seconds=60))]


def test_a_liaison_on_a_callbacks_attempt_is_not_rung_for_another_callback_the_router_gave_them() -> None:
    """The bench's extra liaison ring (41 for 40 callbacks, every caseworker once): the reconciler rebuilt the
    router from SQL while a worker claimed an attempt, so the router had Jan free while the record had him
    ringing for the first callback; it gave him the second, and its attempt rang Jan again (busy: the second
    callback then went to another liaison). The attempt is refused before anything is dialled."""
    deps = make_deps()
    first = dialling(deps, JAN)
    seed_call(deps, "CA-second", state=CallState.QUEUED, organisation="UWV", topic="ww", caseworker_id=None,
              queued_at=deps.clock.now() - timedelta(seconds=30))  # another caller
    asked_in = deps.calls.get("CA-second")
    assert asked_in is not None
    second, created = lifecycle.request_callback(deps, record=asked_in, origin=CallbackOrigin.CONSOLE,
                                                 phone_number="+31612345699")
    assert created and second.state == CallbackState.SCHEDULED
    router = fakes(deps).router
    router.abandon(call_sid=f"cb:{first.id}", org="UWV")  # the router lost its hold on Jan (a rebuild, a failover)
    assert router.claim(call_sid=f"cb:{second.id}", liaison_id=JAN.id, org="UWV", now_ms=ms(deps.clock.now())) == "ok"
    rung = len(fakes(deps).telephony.created)
    assert not lifecycle.start_attempt(deps, callback_id=second.id, liaison_id=JAN.id)
    assert len(fakes(deps).telephony.created) == rung  # nobody dialled
    after = deps.callbacks.get(second.id)
    assert after is not None and (after.state, after.attempts) == (CallbackState.SCHEDULED, 0)
    assert router.line("UWV") == [f"cb:{second.id}"]  # back in its place in line
    assert router.call_of_liaison(liaison_id=JAN.id, org="UWV") == f"cb:{first.id}"  # Jan held for his attempt
