"""services/calls/flow.py: the table of handlers, where stale requests resume, the hop guard; and the rule that
a step module imports no other step."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from callrouter.domain import ivr
from callrouter.domain.call_flow import Goto, Step
from callrouter.domain.calls import OPEN_STATES, CallState
from callrouter.domain.voice import Enqueue, Gather, Hangup, Say, VoiceReply
from callrouter.services.calls import flow
from callrouter.services.calls.deps import CallDeps
from callrouter.services.calls.step import Handler, Next, Stale, StepInput, StepResult
from tests.fakes import fakes, make_deps, seed_call

STEPS_DIR = Path(flow.__file__).resolve().parent / "steps"
STEP_MODULES = sorted(p.stem for p in STEPS_DIR.glob("*.py") if p.stem != "__init__")
SID = "CA-flow"


def test_every_step_has_a_handler() -> None:
    assert set(flow.HANDLERS) == set(Step)
    assert all(callable(handler) for handler in flow.HANDLERS.values())
    # every handler lives in a step module
    assert {h.__module__.rsplit(".", 1)[-1] for h in flow.HANDLERS.values()} == set(STEP_MODULES)


def test_every_open_state_resumes_somewhere_and_an_ended_call_nowhere() -> None:
    assert set(flow.RESUME) == set(OPEN_STATES)
    assert CallState.ENDED not in flow.RESUME
    assert set(flow.RESUME.values()) <= set(flow.HANDLERS)


def test_a_call_at_its_case_reference_question_resumes_there() -> None:
    deps = make_deps()
    at_question = seed_call(deps, SID, state=CallState.MENU, menu_step=ivr.CASE_REFERENCE_STEP)
    assert flow.resume_step(at_question) == Step.CASE_REFERENCE
    at_menu = seed_call(deps, SID, state=CallState.MENU, menu_step="topic")
    assert flow.resume_step(at_menu) == Step.MENU
    assert flow.resume_step(seed_call(deps, SID, state=CallState.ENDED)) is None


@pytest.mark.parametrize(("state", "fields", "first", "goto"), [
    (CallState.IDENTIFYING, {}, Gather, Goto.to(Step.PIN)),
    (CallState.MENU, {"menu_step": "organisation"}, Gather, Goto.to(Step.MENU, step="organisation")),
    (CallState.MENU, {"menu_step": "topic", "organisation": "UWV"}, Gather, Goto.to(Step.MENU, step="topic")),
    (CallState.QUEUED, {"organisation": "UWV", "topic": "ww"}, Enqueue, Goto.to(Step.WAIT)),
    (CallState.OFFERED, {"organisation": "UWV", "topic": "ww", "liaison_id": 11}, Enqueue, Goto.to(Step.WAIT)),
    (CallState.CONNECTED, {"organisation": "UWV", "topic": "ww", "liaison_id": 11}, Enqueue, Goto.to(Step.WAIT)),
    (CallState.CALLBACK, {"organisation": "UWV"}, Hangup, None),
    (CallState.ENDED, {}, Hangup, None),
])
def test_a_request_that_does_not_fit_resumes_the_call_where_it_is(
        state: CallState, fields: dict[str, Any], first: type, goto: Goto | None) -> None:
    deps = make_deps()
    seed_call(deps, SID, state=state, **fields)
    # an organisation nobody knows: the opening step answers Stale for a call in any state
    reply = flow.run(deps, Step.OPENING, StepInput(call_sid=SID, options=(("organisation", "NOPE"),)))
    assert isinstance(reply.actions[0], first)
    action = reply.actions[0]
    if isinstance(action, Gather):
        assert action.action == goto
    elif isinstance(action, Enqueue):
        assert action.wait == goto and action.queue == "callrouter-UWV"
    assert fakes(deps).calls.kinds(SID) == []  # resuming writes nothing


def test_a_stale_request_for_no_call_hangs_up() -> None:
    assert flow.run(make_deps(), Step.MENU, StepInput(call_sid="CA-nobody", digits="1", choice="topic")) == (
        VoiceReply.of(Hangup()))


def test_the_resumed_step_gets_only_the_call_not_the_stale_requests_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    deps = make_deps()
    record = seed_call(deps, SID, state=CallState.QUEUED, organisation="UWV", topic="ww")
    seen: list[StepInput] = []

    def stale(_deps: CallDeps, given: StepInput) -> StepResult:
        return Stale(record)

    def spy(_deps: CallDeps, given: StepInput) -> StepResult:
        seen.append(given)
        return VoiceReply()

    monkeypatch.setitem(flow.HANDLERS, Step.CONNECT, stale)
    monkeypatch.setitem(flow.HANDLERS, Step.QUEUE, spy)
    flow.run(deps, Step.CONNECT, StepInput(call_sid=SID, digits="7", liaison_id=11, choice="x"))
    assert seen == [StepInput(call_sid=SID, record=record, resume=True)]


def test_next_carries_the_words_and_options_on_and_keeps_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    deps = make_deps()
    seen: list[StepInput] = []
    hello = Say("hallo")

    def first(_deps: CallDeps, given: StepInput) -> StepResult:
        return Next(Step.QUEUE, lead=(hello,), choice="after", options={"topic": "zw"})

    def second(_deps: CallDeps, given: StepInput) -> StepResult:
        seen.append(given)
        return VoiceReply.of(*given.lead)

    monkeypatch.setitem(flow.HANDLERS, Step.WAIT, first)
    monkeypatch.setitem(flow.HANDLERS, Step.QUEUE, second)
    reply = flow.run(deps, Step.WAIT, StepInput(call_sid=SID, digits="3", choice="before"))
    assert reply == VoiceReply.of(hello)
    [given] = seen
    assert (given.call_sid, given.digits, given.choice, given.option("topic"), given.resume) == (
        SID, "3", "after", "zw", False)


def test_twelve_hops_settle_but_a_thirteenth_is_a_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    deps = make_deps()
    calls: list[int] = []

    def hop_until(limit: int) -> Handler:
        def handler(_deps: CallDeps, given: StepInput) -> StepResult:
            calls.append(1)
            return Next(Step.WAIT) if len(calls) <= limit else VoiceReply.of(Say("klaar"))
        return handler

    monkeypatch.setitem(flow.HANDLERS, Step.WAIT, hop_until(flow.MAX_HOPS))
    assert flow.run(deps, Step.WAIT, StepInput(call_sid=SID)) == VoiceReply.of(Say("klaar"))
    assert len(calls) == flow.MAX_HOPS + 1
    calls.clear()
    monkeypatch.setitem(flow.HANDLERS, Step.WAIT, hop_until(flow.MAX_HOPS + 1))
    with pytest.raises(RuntimeError, match="did not settle within 12 steps"):
        flow.run(deps, Step.WAIT, StepInput(call_sid=SID))
    assert flow.MAX_HOPS == 12


def _imported_modules(source: str) -> set[str]:
    """Every module (or module member) a step module's source imports, absolute: relative imports are resolved
    against callrouter.services.calls.steps."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = "callrouter.services.calls.steps".split(".")
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("module", STEP_MODULES)
def test_a_step_module_imports_no_other_step(module: str) -> None:
    steps_package = "callrouter.services.calls.steps"
    others = {f"{steps_package}.{name}" for name in STEP_MODULES if name != module}
    imported = _imported_modules((STEPS_DIR / f"{module}.py").read_text(encoding="utf-8"))
    assert imported & others == set()
    assert steps_package not in imported  # not `from ...steps import x` either
    assert "callrouter.services.calls.flow" not in imported  # nor the table that imports them all


def test_the_import_check_sees_every_way_of_importing_a_step() -> None:
    source = ("from callrouter.services.calls.steps import queue\nfrom . import menus\nfrom .offer import connect\n"
              "import callrouter.services.calls.steps.end\n")
    imported = _imported_modules(source)
    steps_package = "callrouter.services.calls.steps"
    assert {f"{steps_package}.{name}" for name in ("queue", "menus", "offer", "end")} <= imported
