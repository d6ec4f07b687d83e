"""The flow linter: the voice-menu defaults of shared/UX.md, checked on a Flow.

Speech time is estimated at WORDS_PER_SECOND, a little slower than Twilio's Dutch and English
voices, so the estimate errs long. Menus are tried with the worst case: four options with long
organisation names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callrouter.domain.ivr import MAX_OPTIONS, MENU_STEPS, Choice, Flow, build_menu, menu_prompts

WORDS_PER_SECOND = 2.5
MAX_PROMPT_SECONDS = 15.0
MAX_MENU_SECONDS = 20.0
MAX_SENTENCE_WORDS = 12  # B1: short sentences
MAX_WORD_LETTERS = 16  # B1: common words; Dutch compounds up to "professionallijn"
WORST_CASE_NAMES = ("Sociale Verzekeringsbank", "Dienst Toeslagen", "Centraal Administratiekantoor",
                    "Dienst Uitvoering Onderwijs", "Immigratie- en Naturalisatiedienst")
SAMPLE_VALUES = {"name": "Dienst Toeslagen", "key": "1", "organisation": "Dienst Toeslagen",
                 "topic": "kinderopvangtoeslag", "location": "Amsterdam", "public_phone": "0800 0543",
                 "opening": "maandag 30 november om 08:00", "wait": "anderhalve minuut", "position": "3",
                 "waited": "2 minuten", "moment": "maandag 30 november om 08:00",
                 "from_organisation": "Uitvoeringsinstituut Werknemersverzekeringen"}


@dataclass(frozen=True)
class Finding:
    field: str  # e.g. "timeout_seconds" or "prompts.nl.option"
    message: str


def speech_seconds(text: str) -> float:
    return len(text.split()) / WORDS_PER_SECOND


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", text.strip()) if s]


def lint_flow(flow: Flow) -> list[Finding]:
    found: list[Finding] = []
    if not 5 <= flow.timeout_seconds <= 10:
        found.append(Finding("timeout_seconds", f"timeout_seconds is {flow.timeout_seconds}: give callers about 8 s (5 to 10)"))
    if not 1 <= flow.max_tries <= 3:
        found.append(Finding("max_tries", f"max_tries is {flow.max_tries}: at most 3 tries in all, then a person"))
    if flow.person_key != "0":
        found.append(Finding("keys", "key 0 must reach a person in every menu"))
    if flow.repeat_key != "*":
        found.append(Finding("keys", "key * must repeat the menu"))
    if flow.language_key in {str(i) for i in range(1, MAX_OPTIONS + 1)}:
        found.append(Finding("keys", f"the language key {flow.language_key} collides with menu options 1..{MAX_OPTIONS}"))
    menus = [s for s in flow.steps if s in MENU_STEPS]
    if len(menus) > 2:
        found.append(Finding("steps", f"{len(menus)} menus before a person: at most 2"))
    if not 1 <= flow.organisation_page_size < MAX_OPTIONS:
        found.append(Finding("organisation_page_size", f"organisation_page_size must leave a key for the next page (1 to {MAX_OPTIONS - 1})"))

    for language, table in flow.prompts.items():
        for key in ("option", "more_option"):
            template = table.get(key, "")
            if "{key}" in template and "{name}" in template and template.index("{name}") > template.index("{key}"):
                found.append(Finding(f"prompts.{language}.{key}", f"prompt {language}.{key}: say the goal first and the key last"))
        for key, template in table.items():
            text = template.format(**SAMPLE_VALUES)
            seconds = speech_seconds(text)
            if seconds > MAX_PROMPT_SECONDS:
                found.append(Finding(f"prompts.{language}.{key}", f"prompt {language}.{key} takes about {seconds:.0f} s: keep prompts under {MAX_PROMPT_SECONDS:.0f} s"))
            for sentence in _sentences(text):
                words = sentence.split()
                if len(words) > MAX_SENTENCE_WORDS:
                    found.append(Finding(f"prompts.{language}.{key}", f"prompt {language}.{key}: a sentence of {len(words)} words; plain language keeps to {MAX_SENTENCE_WORDS}"))
            template_words = re.sub(r"\{[^}]*\}", "", template).split()
            long_words = [w.strip(".,?!:") for w in template_words if len(w.strip(".,?!:")) > MAX_WORD_LETTERS]
            if long_words:
                found.append(Finding(f"prompts.{language}.{key}", f"prompt {language}.{key}: long words {long_words}; use common, short words"))

    found += _case_reference_findings(flow)
    worst = [Choice(str(i), WORST_CASE_NAMES[i % len(WORST_CASE_NAMES)]) for i in range(7)]
    for step in menus:
        for language in flow.languages:
            for page in (0, 1):
                menu = build_menu(flow=flow, step=step, choices=worst if step == "organisation" else worst[:MAX_OPTIONS], page=page)
                if len(menu.options) + (1 if menu.more_key else 0) > MAX_OPTIONS:
                    found.append(Finding("organisation_page_size", f"{step} menu has more than {MAX_OPTIONS} options"))
                said = menu_prompts(flow=flow, menu=menu, language=language, first_page_offer=page == 0)
                seconds = sum(speech_seconds(s.text) for s in said)
                if seconds > MAX_MENU_SECONDS:
                    found.append(Finding(f"prompts.{language}.option", f"the {step} menu ({language}, page {page + 1}) takes about {seconds:.0f} s with long names: keep a menu under {MAX_MENU_SECONDS:.0f} s"))
    return found


def _case_reference_findings(flow: Flow) -> list[Finding]:
    """The case-reference step: a refusal or a 'try again' plus the question stays under a menu's time."""
    found: list[Finding] = []
    if not flow.case_reference:
        return found
    if "identify" not in flow.steps:
        found.append(Finding("case_reference", "case_reference needs the identify step"))
    for language, table in flow.prompts.items():
        question = table.get("case_reference_question", "")
        for lead in ("case_reference_citizen_number", "case_reference_wrong"):
            seconds = speech_seconds(table.get(lead, "")) + speech_seconds(question)
            if seconds > MAX_MENU_SECONDS:
                found.append(Finding(f"prompts.{language}.{lead}", f"prompt {language}.{lead} with the question "
                                     f"takes about {seconds:.0f} s: keep it under {MAX_MENU_SECONDS:.0f} s"))
    return found
