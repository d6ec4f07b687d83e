"""The flow files, their loader (file:line faults) and the linter of the UX defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from callrouter.adapters.flow_files import FlowFileError, load_flows, parse_flow
from callrouter.domain.flow_lint import lint_flow
from callrouter.domain.ivr import Choice, KeyMeaning, build_menu, menu_prompts, read_key, spoken_duration

FLOWS = Path(__file__).resolve().parents[2] / "ivr_flows"
SEVEN = [Choice(c, c) for c in ("CAK", "CJIB", "DUO", "IND", "TSL", "SVB", "UWV")]


@pytest.mark.parametrize("path", sorted(FLOWS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_flow_file_loads_and_passes_the_linter(path: Path) -> None:
    flow, problems = parse_flow(path.read_text(), str(path))
    assert problems == []
    assert flow is not None
    assert lint_flow(flow) == []
    assert flow.default_language == "nl" and "en" in flow.languages


def test_both_line_kinds_have_a_flow() -> None:
    flows = load_flows(FLOWS)
    assert set(flows) == {"professional", "citizen"}
    assert flows["professional"].steps == ("identify", "organisation", "topic", "queue")
    assert flows["citizen"].steps == ("topic", "queue")


def _professional_text() -> str:
    return (FLOWS / "professional.yaml").read_text()


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_missing_prompt_is_named_with_its_file_and_line() -> None:
    text = _professional_text().replace('    ask_code: "Enter your staff code', '    ask_kode: "Enter your staff code')
    flow, problems = parse_flow(text, "ivr_flows/professional.yaml")
    assert flow is None
    line = _line_of(text, "ask_kode")
    assert f"ivr_flows/professional.yaml:{line}: prompt en.ask_kode is not used by this flow" in problems
    assert any("prompt en.ask_code is missing" in p for p in problems)


def test_an_unknown_placeholder_is_refused() -> None:
    text = _professional_text().replace("Welkom bij de professionallijn, loket {location}.",
                                        "Welkom, {naam}.")
    _, problems = parse_flow(text, "f.yaml")
    line = _line_of(text, "Welkom, {naam}.")
    assert any(p.startswith(f"f.yaml:{line}:") and "unknown placeholder" in p and "naam" in p for p in problems)


def test_broken_yaml_is_reported_with_its_line() -> None:
    _, problems = parse_flow("flow: x\nsteps: [queue\nprompts: {}\n", "bad.yaml")
    assert len(problems) == 1 and problems[0].startswith("bad.yaml:") and "not valid YAML" in problems[0]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("timeout_seconds: 8", "timeout_seconds: 30", "timeout_seconds is 30"),
    ("max_tries: 3", "max_tries: 5", "at most 3 tries"),
    ('person: "0"', 'person: "8"', "key 0 must reach a person"),
    ('option: "Voor {name}, toets {key}."', 'option: "Toets {key} voor {name}."', "goal first and the key last"),
    ('queued: "Dank u.', 'queued: "Dank u voor uw geduld terwijl wij proberen om u zo snel als het maar enigszins mogelijk is door te verbinden.', "a sentence of"),
])
def test_the_linter_refuses_what_ux_forbids(old: str, new: str, message: str) -> None:
    text = _professional_text()
    assert old in text
    _, problems = parse_flow(text.replace(old, new, 1), "p.yaml")
    assert any(message in p for p in problems), problems


def test_a_broken_flow_stops_loading_with_every_fault(tmp_path: Path) -> None:
    (tmp_path / "professional.yaml").write_text(_professional_text().replace("max_tries: 3", "max_tries: 9"))
    (tmp_path / "citizen.yaml").write_text((FLOWS / "citizen.yaml").read_text().replace("steps: [topic, queue]", "steps: [topic]"))
    with pytest.raises(FlowFileError) as raised:
        load_flows(tmp_path)
    text = str(raised.value)
    assert "professional.yaml:" in text and "max_tries" in text
    assert "citizen.yaml:" in text and "ends with queue" in text


def test_seven_organisations_fit_in_two_pages_of_at_most_four_options() -> None:
    flow = load_flows(FLOWS)["professional"]
    first = build_menu(flow=flow, step="organisation", choices=SEVEN, page=0)
    second = build_menu(flow=flow, step="organisation", choices=SEVEN, page=1)
    assert [k for k, _ in first.options] == ["1", "2", "3"] and first.more_key == "4"
    assert [c.code for _, c in second.options] == ["IND", "TSL", "SVB", "UWV"] and second.more_key is None
    assert [k for k, _ in second.options] == ["1", "2", "3", "4"]


def test_menu_prompts_put_the_goal_first_and_offer_english_once() -> None:
    flow = load_flows(FLOWS)["professional"]
    menu = build_menu(flow=flow, step="organisation", choices=SEVEN[:3], page=0)
    said = menu_prompts(flow=flow, menu=menu, language="nl", first_page_offer=True)
    texts = [s.text for s in said]
    assert texts[0] == "Met welke organisatie wilt u spreken?"
    assert texts[1] == "Voor CAK, toets 1."
    assert "Voor een medewerker, toets 0." in texts
    assert said[-1].language == "en" and "English" in said[-1].text
    again = menu_prompts(flow=flow, menu=menu, language="nl", first_page_offer=False, reprompt=True)
    assert "Om te herhalen, toets sterretje." in [s.text for s in again]


@pytest.mark.parametrize(("digits", "meaning"), [
    ("2", KeyMeaning.CHOICE), ("4", KeyMeaning.MORE), ("0", KeyMeaning.PERSON), ("*", KeyMeaning.REPEAT),
    ("9", KeyMeaning.LANGUAGE), ("", KeyMeaning.NO_INPUT), (None, KeyMeaning.NO_INPUT), ("7", KeyMeaning.INVALID),
])
def test_keys_mean_what_the_menu_says(digits: str | None, meaning: KeyMeaning) -> None:
    flow = load_flows(FLOWS)["professional"]
    menu = build_menu(flow=flow, step="organisation", choices=SEVEN, page=0)
    assert read_key(flow=flow, menu=menu, digits=digits, language="nl").meaning == meaning


def test_english_key_only_switches_from_dutch() -> None:
    flow = load_flows(FLOWS)["professional"]
    menu = build_menu(flow=flow, step="topic", choices=SEVEN[:2], page=0)
    assert read_key(flow=flow, menu=menu, digits="9", language="en").meaning == KeyMeaning.INVALID


@pytest.mark.parametrize(("seconds", "nl", "en"), [
    (10, "een halve minuut", "half a minute"), (45, "1 minuut", "1 minute"),
    (80, "anderhalve minuut", "1 and a half minutes"), (121, "3 minuten", "3 minutes"),
])
def test_waits_are_said_rounded_up(seconds: float, nl: str, en: str) -> None:
    assert spoken_duration(seconds, "nl") == nl
    assert spoken_duration(seconds, "en") == en
