"""IVR flows as data, and the pure rules for menus: which options, what the caller hears, what a key means.

A flow (loaded from ivr_flows/*.yaml by the flow-file adapter) names its steps and holds every
prompt per language. Menus take their options from the directory (organisations connected at
the caller's counter, topics of an organisation), so the rules here build a menu from choices.
"""

from __future__ import annotations

import enum
import string
from dataclasses import dataclass

from callrouter.domain.voice import Say

STEPS = ("identify", "organisation", "topic", "queue")
MENU_STEPS = ("organisation", "topic")
MAX_OPTIONS = 4
CASE_REFERENCE_STEP = "case_reference"  # the optional step after identification (Flow.case_reference)
CASE_REFERENCE_TIMEOUT = 5  # seconds of silence that end the entry (or mean: no reference)
CASE_REFERENCE_TRIES = 2  # a refused or malformed reference is asked once more, then the call goes on


@dataclass(frozen=True)
class Flow:
    name: str
    line_kind: str
    steps: tuple[str, ...]
    prompts: dict[str, dict[str, str]]  # language -> key -> text; the first language is the default
    person_key: str = "0"
    repeat_key: str = "*"
    language_key: str = "9"
    timeout_seconds: int = 8
    max_tries: int = 3
    organisation_page_size: int = 3
    callbacks: bool = False  # offer callbacks (while waiting, when closed, when nobody is on duty)
    case_reference: bool = False  # after identification, ask for the counter's own case reference (optional)
    # Registered numbers are asked for code + PIN too (caller ID can be forged: docs/security.md); the default,
    # False, lets a call from a registered number in on the number alone.
    pin_for_registered_numbers: bool = False
    source: str = ""  # file the flow came from, for messages

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.prompts)

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def text(self, prompt: str, language: str, **values: object) -> str:
        table = self.prompts.get(language) or self.prompts[self.default_language]
        template = table.get(prompt) or self.prompts[self.default_language][prompt]
        return template.format(**values)

    def say(self, prompt: str, language: str, **values: object) -> Say:
        return Say(self.text(prompt, language, **values), language)

    def next_step(self, step: str) -> str:
        return self.steps[self.steps.index(step) + 1]


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class Choice:
    code: str
    name: str


@dataclass(frozen=True)
class Menu:
    """One page of a menu as heard: keys 1..n for choices, then possibly a key for the next page."""

    step: str
    options: tuple[tuple[str, Choice], ...]  # (key, choice)
    more_key: str | None
    page: int


def build_menu(*, flow: Flow, step: str, choices: list[Choice], page: int = 0) -> Menu:
    """Keys 1..n without gaps, most frequent first; paged when there are more than MAX_OPTIONS."""
    if len(choices) <= MAX_OPTIONS:
        return Menu(step, tuple((str(i + 1), c) for i, c in enumerate(choices)), None, 0)
    size = flow.organisation_page_size
    pages = [choices[i : i + size] for i in range(0, len(choices), size)]
    # The last page takes up to MAX_OPTIONS, so 7 organisations fit on two pages (3 + 4).
    if len(pages) > 1 and len(pages[-2]) + len(pages[-1]) <= MAX_OPTIONS:
        pages[-2:] = [pages[-2] + pages[-1]]
    page = min(page, len(pages) - 1)
    shown = pages[page]
    options = tuple((str(i + 1), c) for i, c in enumerate(shown))
    more = str(len(shown) + 1) if page < len(pages) - 1 else None
    return Menu(step, options, more, page)


def menu_prompts(
    *, flow: Flow, menu: Menu, language: str, first_page_offer: bool, reprompt: bool = False
) -> tuple[Say, ...]:
    """The question, then 'Voor X, toets n' (goal first, key last), then 0; * is told on a re-prompt."""
    said = [flow.say(f"{menu.step}_question", language)]
    said += [flow.say("option", language, name=choice.name, key=key) for key, choice in menu.options]
    if menu.more_key:
        said.append(flow.say("more_option", language, key=menu.more_key))
    said.append(flow.say("person_option", language))
    if reprompt:
        said.append(flow.say("repeat_option", language))
    if first_page_offer and language == flow.default_language and len(flow.languages) > 1:
        said.append(Say(flow.text("language_offer", flow.languages[1]), flow.languages[1]))
    return tuple(said)


class KeyMeaning(enum.Enum):
    CHOICE = "choice"
    MORE = "more"
    PERSON = "person"
    REPEAT = "repeat"
    LANGUAGE = "language"
    NO_INPUT = "no_input"
    INVALID = "invalid"


@dataclass(frozen=True)
class KeyPress:
    meaning: KeyMeaning
    choice: Choice | None = None


def read_key(*, flow: Flow, menu: Menu, digits: str | None, language: str) -> KeyPress:
    digits = (digits or "").strip().rstrip("#")
    if not digits:
        return KeyPress(KeyMeaning.NO_INPUT)
    key = digits[-1] if len(digits) > 1 and digits[-1] in "*#" else digits[0]
    for option_key, choice in menu.options:
        if key == option_key:
            return KeyPress(KeyMeaning.CHOICE, choice)
    if menu.more_key and key == menu.more_key:
        return KeyPress(KeyMeaning.MORE)
    if key == flow.person_key:
        return KeyPress(KeyMeaning.PERSON)
    if key == flow.repeat_key:
        return KeyPress(KeyMeaning.REPEAT)
    if key == flow.language_key and language == flow.default_language and len(flow.languages) > 1:
        return KeyPress(KeyMeaning.LANGUAGE)
    return KeyPress(KeyMeaning.INVALID)


def spoken_duration(seconds: float, language: str) -> str:
    """A wait in words, rounded up to half minutes below 2 minutes and to whole minutes above."""
    seconds = max(0.0, seconds)
    if language == "en":
        if seconds <= 30:
            return "half a minute"
        if seconds <= 60:
            return "1 minute"
        if seconds <= 90:
            return "1 and a half minutes"
        return f"{-(-int(seconds) // 60)} minutes"
    if seconds <= 30:
        return "een halve minuut"
    if seconds <= 60:
        return "1 minuut"
    if seconds <= 90:
        return "anderhalve minuut"
    return f"{-(-int(seconds) // 60)} minuten"
