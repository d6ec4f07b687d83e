"""Load ivr_flows/*.yaml into Flow objects; every fault is reported as `file:line: message`.

Structure is checked here (a broken file stops start-up); the UX defaults are checked by the
flow linter (callrouter.domain.flow_lint), which load_flows also runs.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from callrouter.domain.flow_lint import lint_flow
from callrouter.domain.ivr import STEPS, Flow, placeholders

COMMON_PROMPTS: dict[str, set[str]] = {
    "option": {"name", "key"}, "person_option": set(), "repeat_option": set(), "no_input": set(),
    "invalid": set(), "to_person": {"organisation"}, "closed": {"organisation", "opening"},
    "closed_long": {"organisation", "public_phone"}, "no_liaison": {"organisation", "public_phone"},
    "queued": {"organisation", "topic"}, "wait_estimate": {"wait", "position"}, "wait_unknown": {"position"},
    "returned_to_queue": set(), "whisper": {"location", "organisation", "topic", "waited"},
    "error": {"public_phone"}, "not_in_use": set(), "language_offer": set(),
    # after the conversation, on a line with the verdict question (directory: verdict_question)
    "verdict_question": set(), "verdict_thanks": set(), "verdict_goodbye": set(),
    # a transfer to another organisation (docs/transfer.md): to the caller, and the new liaison's whisper
    "transferring": {"organisation"},
    "whisper_transferred": {"location", "from_organisation", "organisation", "topic", "waited"},
    "consult_hold": set(), "whisper_consult": {"location", "from_organisation", "topic"},
}
STEP_PROMPTS: dict[str, dict[str, set[str]]] = {
    "identify": {"greeting_caseworker": {"location"}, "greeting_unknown": set(), "ask_code": set(),
                 "code_wrong": set(), "code_failed": {"public_phone"}, "locked": {"public_phone"}},
    "organisation": {"organisation_question": set(), "more_option": {"key"}},
    "topic": {"topic_question": set()},
}
CITIZEN_PROMPTS: dict[str, set[str]] = {"greeting_citizen": {"organisation"}}
CALLBACK_PROMPTS: dict[str, set[str]] = {
    "callback_offer": set(), "callback_closed_offer": set(), "callback_no_liaison_offer": set(),
    "callback_slot_question": set(), "callback_number_question": set(), "callback_number_enter": set(),
    "callback_number_wrong": set(), "callback_record": set(), "callback_done": set(),
    "callback_done_at": {"moment"}, "callback_joined": set(),
    "callback_liaison_intro": {"location", "organisation", "topic"}, "callback_liaison_message": set(),
    "callback_liaison_choice": set(), "callback_liaison_no_answer": set(), "callback_liaison_postponed": set(),
}
CASE_REFERENCE_PROMPTS: dict[str, set[str]] = {
    "case_reference_question": set(), "case_reference_citizen_number": set(), "case_reference_wrong": set(),
    "case_reference_skipped": set(),
}
TOP_KEYS = {"flow", "line_kind", "steps", "keys", "timeout_seconds", "max_tries",
            "organisation_page_size", "callbacks", "case_reference", "pin_for_registered_numbers", "prompts"}


class FlowFileError(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid IVR flow files:\n" + "\n".join(problems))


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(node: yaml.Node) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): v for k, v in node.value}


def allowed_prompts(steps: tuple[str, ...], *, callbacks: bool = False,
                    case_reference: bool = False) -> dict[str, set[str]]:
    wanted = dict(COMMON_PROMPTS)
    if callbacks:
        wanted.update(CALLBACK_PROMPTS)
    if case_reference:
        wanted.update(CASE_REFERENCE_PROMPTS)
    for step in steps:
        wanted.update(STEP_PROMPTS.get(step, {}))
    if "identify" not in steps:
        wanted.update(CITIZEN_PROMPTS)
    return wanted


def parse_flow(text: str, source: str) -> tuple[Flow | None, list[str]]:
    problems: list[str] = []

    def fault(node: yaml.Node | None, message: str) -> None:
        problems.append(f"{source}:{_line(node) if node is not None else 1}: {message}")

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        return None, [f"{source}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]
    if not isinstance(root, yaml.MappingNode):
        return None, [f"{source}:1: a flow file is a mapping with flow, steps, keys and prompts"]
    top = _mapping(root)
    for key, value in top.items():
        if key not in TOP_KEYS:
            fault(value, f"unknown field {key!r}")
    for key in ("flow", "line_kind", "steps", "prompts"):
        if key not in top:
            fault(root, f"missing field {key!r}")
    if problems:
        return None, problems

    def scalar(key: str, default: str) -> str:
        node = top.get(key)
        if node is None:
            return default
        if not isinstance(node, yaml.ScalarNode):
            fault(node, f"{key} must be a single value")
            return default
        return str(node.value)

    def integer(key: str, default: int) -> int:
        raw = scalar(key, str(default))
        if not raw.isdigit():
            fault(top[key], f"{key} must be a whole number, not {raw!r}")
            return default
        return int(raw)

    if scalar("line_kind", "") not in ("professional", "citizen"):
        fault(top["line_kind"], "line_kind must be professional or citizen")
    steps_node = top["steps"]
    steps: tuple[str, ...] = ()
    if isinstance(steps_node, yaml.SequenceNode):
        steps = tuple(str(item.value) for item in steps_node.value)
    for step in steps:
        if step not in STEPS:
            fault(steps_node, f"unknown step {step!r}; known steps: {', '.join(STEPS)}")
    if not steps or steps[-1] != "queue":
        fault(steps_node, "steps must be a list that ends with queue")

    keys = {"person": "0", "repeat": "*", "language": "9"}
    for key, node in _mapping(top.get("keys") or yaml.MappingNode("", [])).items():
        if key not in keys:
            fault(node, f"unknown key role {key!r}; roles: person, repeat, language")
        elif not (isinstance(node, yaml.ScalarNode) and len(str(node.value)) == 1 and str(node.value) in "0123456789*#"):
            fault(node, f"key {key} must be one phone key (0-9, * or #)")
        else:
            keys[key] = str(node.value)

    prompts: dict[str, dict[str, str]] = {}
    callbacks = scalar("callbacks", "false").lower()
    if callbacks not in ("true", "false"):
        fault(top["callbacks"], "callbacks must be true or false")
    case_reference = scalar("case_reference", "false").lower()
    if case_reference not in ("true", "false"):
        fault(top["case_reference"], "case_reference must be true or false")
    elif case_reference == "true" and "identify" not in steps:
        fault(top["case_reference"], "case_reference needs the identify step: only a known caseworker has a case")
    pin_for_registered = scalar("pin_for_registered_numbers", "false").lower()
    if pin_for_registered not in ("true", "false"):
        fault(top["pin_for_registered_numbers"], "pin_for_registered_numbers must be true or false")
    elif pin_for_registered == "true" and "identify" not in steps:
        fault(top["pin_for_registered_numbers"], "pin_for_registered_numbers needs the identify step")
    wanted = allowed_prompts(steps, callbacks=callbacks == "true", case_reference=case_reference == "true")
    for language, table_node in _mapping(top["prompts"]).items():
        table: dict[str, str] = {}
        for key, node in _mapping(table_node).items():
            if key not in wanted:
                fault(node, f"prompt {language}.{key} is not used by this flow")
                continue
            if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
                fault(node, f"prompt {language}.{key} must be a non-empty text")
                continue
            text_value = str(node.value)
            try:
                unknown = placeholders(text_value) - wanted[key]
            except ValueError as exc:
                fault(node, f"prompt {language}.{key}: broken placeholder: {exc}")
                continue
            if unknown:
                fault(node, f"prompt {language}.{key} uses unknown placeholder(s) {sorted(unknown)}; "
                            f"allowed: {sorted(wanted[key]) or 'none'}")
            table[key] = text_value
        for key in sorted(set(wanted) - set(table)):
            fault(table_node, f"prompt {language}.{key} is missing")
        prompts[language] = table
    if not prompts:
        fault(top["prompts"], "prompts needs at least one language (Dutch first)")
    elif next(iter(prompts)) != "nl":
        fault(top["prompts"], "the first language of prompts must be nl (Dutch first)")

    flow = Flow(
        name=scalar("flow", ""), line_kind=scalar("line_kind", ""), steps=steps, prompts=prompts,
        person_key=keys["person"], repeat_key=keys["repeat"], language_key=keys["language"],
        timeout_seconds=integer("timeout_seconds", 8), max_tries=integer("max_tries", 3),
        organisation_page_size=integer("organisation_page_size", 3), callbacks=callbacks == "true",
        case_reference=case_reference == "true", pin_for_registered_numbers=pin_for_registered == "true",
        source=source,
    )
    if problems:
        return None, problems
    for finding in lint_flow(flow):
        found = top.get(finding.field.split(".")[0]) if finding.field else None
        if finding.field.startswith("prompts."):
            _, language, key = (finding.field.split(".") + ["", ""])[:3]
            found = _mapping(_mapping(top["prompts"]).get(language, root)).get(key, found)
        fault(found if found is not None else root, finding.message)
    return (None if problems else flow), problems


def load_flows(directory: Path) -> dict[str, Flow]:
    """All flows in a folder by line kind; raises FlowFileError naming every fault."""
    flows: dict[str, Flow] = {}
    problems: list[str] = []
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise FlowFileError([f"{directory}: no flow files (*.yaml)"])
    for path in files:
        flow, found = parse_flow(path.read_text(encoding="utf-8"), str(path))
        problems += found
        if flow is None:
            continue
        if flow.line_kind in flows:
            problems.append(f"{path}:1: a second flow for line kind {flow.line_kind!r}")
        flows[flow.line_kind] = flow
    for kind in ("professional", "citizen"):
        if not problems and kind not in flows:
            problems.append(f"{directory}: no flow for line kind {kind!r}")
    if problems:
        raise FlowFileError(problems)
    return flows
