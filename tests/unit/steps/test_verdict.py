"""steps/verdict.py: after the conversation, a line with the verdict question asks the caller once."""

from __future__ import annotations

import dataclasses

import pytest

from callrouter.domain.call_flow import DialEnd, Goto, LegStatus, Step
from callrouter.domain.calls import CallState, EventKind
from callrouter.domain.evaluation import Verdict, evaluation, read_verdict
from callrouter.domain.voice import Hangup
from callrouter.services.calls import flow
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import StepInput
from tests.fakes import CIT_LINE, PRO_LINE, fakes, gather_of, make_deps, make_directory, said, verbs
from tests.unit.steps.test_connected import SID, dialled, leg, offered_to

ASKING = dataclasses.replace(PRO_LINE, verdict_question=True)
QUESTION_NL = "Is uw vraag beantwoord? Toets 1 voor ja, 2 voor deels, 3 voor nee."


def after_conversation(*, asking: bool = True, language: str = "nl") -> tuple[CallDeps, list[str]]:
    deps = make_deps(directory=make_directory(lines=(ASKING if asking else PRO_LINE, CIT_LINE)))
    offered_to(deps)
    if language != "nl":
        fakes(deps).calls.put(dataclasses.replace(fakes(deps).calls.get(SID), language=language))  # type: ignore[arg-type]
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED))
    reply = flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.TALKED, talk_seconds=60))
    return deps, [said(reply), *verbs(reply)]


def answer(deps: CallDeps, digits: str | None) -> list[str]:
    reply = flow.run(deps, Step.VERDICT_ANSWER, StepInput(call_sid=SID, digits=digits))
    return [said(reply), *verbs(reply)]


def test_a_line_with_the_question_asks_it_once_the_liaison_has_left_and_the_call_has_ended() -> None:
    deps = make_deps(directory=make_directory(lines=(ASKING, CIT_LINE)))
    offered_to(deps)
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED))
    reply = flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.TALKED, talk_seconds=60))
    gather = gather_of(reply)
    assert said(reply) == QUESTION_NL
    assert gather.action == Goto.to(Step.VERDICT_ANSWER) and gather.num_digits == 1 and gather.action_on_empty_result
    record = fakes(deps).calls.get(SID)
    assert record is not None and record.state == CallState.ENDED  # talk time and the liaison are settled first
    assert fakes(deps).calls.kinds(SID)[-2:] == [EventKind.COMPLETED, EventKind.VERDICT_ASKED]


def test_without_the_setting_the_call_ends_as_before() -> None:
    deps, heard = after_conversation(asking=False)
    assert heard == ["", "Hangup"]
    assert EventKind.VERDICT_ASKED not in fakes(deps).calls.kinds(SID)


@pytest.mark.parametrize(("key", "verdict"), [("1", Verdict.YES), ("2", Verdict.PARTLY), ("3", Verdict.NO)])
def test_a_key_one_to_three_is_the_verdict(key: str, verdict: Verdict) -> None:
    deps, _ = after_conversation()
    assert answer(deps, key) == ["Dank u wel. Tot ziens.", "Say", "Hangup"]
    assert fakes(deps).calls.details(SID, EventKind.VERDICT) == [{"answer": verdict.value}]
    assert evaluation([(e.kind, e.at, e.detail) for e in deps.calls.events(SID)]).verdict == verdict


@pytest.mark.parametrize("digits", [None, "", "4", "0", "*", "12"])
def test_silence_or_a_key_out_of_range_records_nothing_and_is_not_asked_again(digits: str | None) -> None:
    deps, _ = after_conversation()
    assert answer(deps, digits) == ["Tot ziens.", "Say", "Hangup"]
    assert EventKind.VERDICT not in fakes(deps).calls.kinds(SID)
    # a repeated dial result (a retried webhook) does not ask again, and a late key changes nothing
    assert verbs(flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.TALKED, talk_seconds=60))) == ["Hangup"]
    assert fakes(deps).calls.kinds(SID).count(EventKind.VERDICT_ASKED) == 1


def test_a_second_answer_does_not_change_the_first() -> None:
    deps, _ = after_conversation()
    answer(deps, "3")
    answer(deps, "1")
    assert fakes(deps).calls.details(SID, EventKind.VERDICT) == [{"answer": "no"}]


def test_an_answer_for_a_call_never_asked_records_nothing() -> None:
    deps, _ = after_conversation(asking=False)
    assert answer(deps, "1") == ["", "Hangup"]
    assert EventKind.VERDICT not in fakes(deps).calls.kinds(SID)
    assert flow.run(deps, Step.VERDICT_ANSWER, StepInput(call_sid="CA-unknown", digits="1")).actions == (Hangup(),)


def test_a_caller_who_chose_english_hears_it_in_english() -> None:
    _, heard = after_conversation(language="en")
    assert heard[0] == "Was your question answered? Press 1 for yes, 2 for partly, 3 for no."


def test_a_caller_who_hung_up_first_is_not_asked() -> None:
    deps = make_deps(directory=make_directory(lines=(ASKING, CIT_LINE)))
    offered_to(deps)
    flow.run(deps, Step.LIAISON_LEG, leg(LegStatus.ANSWERED))
    flow.run(deps, Step.STATUS, StepInput(call_sid=SID, leg=LegStatus.COMPLETED))  # the caller's hang-up ended it
    assert verbs(flow.run(deps, Step.DIAL_RESULT, dialled(DialEnd.TALKED, talk_seconds=60))) == ["Hangup"]
    assert EventKind.VERDICT_ASKED not in fakes(deps).calls.kinds(SID)


def test_keys_read_as_verdicts() -> None:
    assert [read_verdict(k) for k in ("1", "2", "3", " 1 ", "4", "", None, "11")] == [
        Verdict.YES, Verdict.PARTLY, Verdict.NO, Verdict.YES, None, None, None, None]
