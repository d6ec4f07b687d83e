"""Menu use: how callers answer each voice menu (a choice, 0, *, nothing, a wrong key), per flow and step.

The voice flow writes one call event per answer (`menu_choice`, `menu_person`, `menu_repeat`,
`menu_no_input`, `menu_invalid`, each with the menu `step` in its detail). Three kinds of event are no
answer of the caller and are left out, so a share of 0 means what it says:

- the choice the service makes itself right after `0` or after the last try (`to_person`: the
  counter's first organisation, or any liaison of the organisation): the event right after a
  `menu_person`, or after a `menu_no_input`/`menu_invalid` whose `try` reached the flow's tries;
- the same for the case reference: after the last refused or malformed number the call goes on
  without one (`choice: none`);
- the organisation a citizen line chose for the caller (a flow without an organisation menu).

An organisation chosen while it is closed or nobody of it is on duty is written as `closed` or
`no_liaison` (not `menu_choice`); that counts as a choice in the organisation menu.
Any event whose detail carries `by: service` is left out as well: the voice flow writes that marker
when it chooses the organisation itself (a counter with only one organisation, `0`, the last try).

Pure: the events come in, grouped per call and each call's in the order they happened.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from callrouter.domain.calls import EventKind
from callrouter.domain.ivr import CASE_REFERENCE_STEP, CASE_REFERENCE_TRIES

ORGANISATION_STEP, TOPIC_STEP = "organisation", "topic"
FLOW_ORDER = ("professional", "citizen")
SERVICE = "service"  # detail `by`: a choice the service made itself (a marker the voice flow may write)
MIN_ANSWERS = 10  # below this many answers a menu gets no signal: too few to judge
# Events read for menu use (the SQL adapter reads these kinds in the period).
KINDS = (EventKind.MENU_CHOICE, EventKind.MENU_PERSON, EventKind.MENU_REPEAT, EventKind.MENU_NO_INPUT,
         EventKind.MENU_INVALID, EventKind.CLOSED, EventKind.NO_LIAISON)


class Answer(enum.StrEnum):
    CHOICE = "choices"
    PERSON = "person"  # key 0: a person
    REPEAT = "repeat"  # key *: hear the menu again
    NO_INPUT = "no_input"  # no key within the time-out
    INVALID = "invalid"  # a key the menu does not know (a malformed or refused case reference)


_ANSWER_OF: dict[str, Answer] = {EventKind.MENU_CHOICE: Answer.CHOICE, EventKind.CLOSED: Answer.CHOICE,
              EventKind.NO_LIAISON: Answer.CHOICE, EventKind.MENU_PERSON: Answer.PERSON,
              EventKind.MENU_REPEAT: Answer.REPEAT, EventKind.MENU_NO_INPUT: Answer.NO_INPUT,
              EventKind.MENU_INVALID: Answer.INVALID}

# Step names for people (Dutch, English), in the order the caller meets them. A topic menu is per
# organisation ("Keuze onderwerp UWV"); a step not listed here is shown by its raw name.
STEP_NAMES: dict[str, tuple[str, str]] = {
    CASE_REFERENCE_STEP: ("Vraag naar eigen dossiernummer", "Own case reference question"),
    ORGANISATION_STEP: ("Keuze organisatie", "Choice of organisation"),
    TOPIC_STEP: ("Keuze onderwerp", "Choice of topic"),
    "callback-closed": ("Terugbelaanbod: organisatie gesloten", "Callback offer: organisation closed"),
    "callback-nobody": ("Terugbelaanbod: niemand aanwezig", "Callback offer: nobody on duty"),
    "callback-slot": ("Keuze terugbelmoment", "Choice of callback moment"),
}
# Menus where only wrong keys are written (a yes is a callback request, silence or a no ends the call):
# counts without answers or shares, and outside the totals.
WRONG_KEYS_ONLY = frozenset({"callback-closed", "callback-nobody", "callback-slot"})


@dataclass(frozen=True)
class FlowRules:
    """What the flow of a line kind decides about its menus (from ivr_flows/*.yaml)."""

    max_tries: int = 3
    organisation_menu: bool = True  # False: the line chooses the organisation (a citizen line)


DEFAULT_RULES: dict[str, FlowRules] = {"professional": FlowRules(), "citizen": FlowRules(organisation_menu=False)}


@dataclass(frozen=True)
class MenuEvent:
    call_id: int
    line_kind: str
    organisation: str | None  # the call's organisation (names the topic menu)
    kind: str  # an EventKind value
    detail: Mapping[str, object]


@dataclass(frozen=True)
class Signal:
    answer: Answer
    share: float
    threshold: float
    nl: str
    en: str


# When a menu stands out (share of its answers at or above the threshold), said in words. Starting
# values, not a norm: change them here.
SIGNALS: dict[Answer, tuple[float, str, str]] = {
    Answer.PERSON: (0.15, "Hier drukken bellers vaak 0: het menu helpt ze niet verder.",
                    "Callers often press 0 here: the menu does not help them on."),
    Answer.REPEAT: (0.10, "Hier vragen bellers vaak om herhaling (*): de keuzes zijn moeilijk te onthouden.",
                    "Callers often ask to hear it again (*): the options are hard to remember."),
    Answer.NO_INPUT: (0.10, "Hier toetsen bellers vaak niets (time-out): ze twijfelen of haken af.",
                      "Callers often press nothing here (time-out): they hesitate or give up."),
    Answer.INVALID: (0.10, "Hier toetsen bellers vaak iets wat het menu niet kent.",
                     "Callers often press something the menu does not know here."),
}


@dataclass
class MenuRow:
    """One menu of one flow: its answers by kind."""

    line_kind: str
    step: str
    organisation: str = ""  # only for a topic menu
    choices: int = 0
    person: int = 0
    repeat: int = 0
    no_input: int = 0
    invalid: int = 0
    next_page: int = 0  # of the choices: "another organisation" (the next page of the menu)
    citizen_number: int = 0  # of the wrong entries: a case reference that looked like a BSN (refused)

    @property
    def complete(self) -> bool:
        """Every answer is written (not only the wrong keys)."""
        return self.step not in WRONG_KEYS_ONLY

    @property
    def answers(self) -> int | None:
        """Beurten: every answer to this menu; None where only wrong keys are written."""
        if not self.complete:
            return None
        return self.choices + self.person + self.repeat + self.no_input + self.invalid

    def count(self, answer: Answer) -> int:
        return int(getattr(self, answer.value))

    def share(self, answer: Answer) -> float | None:
        """Part of this menu's answers; None without answers (no figure, not 0 %)."""
        answers = self.answers
        return self.count(answer) / answers if answers else None

    @property
    def name_nl(self) -> str:
        return step_name(self.step, self.organisation, language="nl")

    @property
    def name_en(self) -> str:
        return step_name(self.step, self.organisation, language="en")

    @property
    def judged(self) -> bool:
        """Enough answers to say whether the menu stands out."""
        return (self.answers or 0) >= MIN_ANSWERS

    def signals(self) -> list[Signal]:
        if not self.judged:
            return []
        found = []
        for answer, (threshold, nl, en) in SIGNALS.items():
            share = self.share(answer)
            if share is not None and share >= threshold:
                found.append(Signal(answer, share, threshold, nl, en))
        return found

    def add(self, other: MenuRow) -> None:
        for answer in Answer:
            setattr(self, answer.value, self.count(answer) + other.count(answer))
        self.next_page += other.next_page
        self.citizen_number += other.citizen_number


@dataclass
class FlowUsage:
    line_kind: str
    menus: list[MenuRow] = field(default_factory=list)

    @property
    def total(self) -> MenuRow:
        """The menus recorded completely together (not the callback menus)."""
        total = MenuRow(self.line_kind, "total")
        for row in self.menus:
            if row.complete:
                total.add(row)
        return total


@dataclass
class MenuUsage:
    flows: list[FlowUsage] = field(default_factory=list)

    @property
    def total(self) -> MenuRow:
        total = MenuRow("", "total")
        for flow in self.flows:
            total.add(flow.total)
        return total


def step_name(step: str, organisation: str = "", *, language: str = "nl") -> str:
    names = STEP_NAMES.get(step)
    if names is None:
        return step
    name = names[0] if language == "nl" else names[1]
    return f"{name} {organisation}" if organisation else name


def _tries(event: MenuEvent) -> int:
    value = event.detail.get("try")
    return value if isinstance(value, int) else 0


def _step_of(event: MenuEvent) -> str:
    if event.kind in (EventKind.CLOSED, EventKind.NO_LIAISON):
        return ORGANISATION_STEP  # an organisation chosen when it is closed or nobody is on duty
    return str(event.detail.get("step") or "")


def _max_tries(step: str, rules: FlowRules) -> int:
    return CASE_REFERENCE_TRIES if step == CASE_REFERENCE_STEP else rules.max_tries


def _ends_the_menu(event: MenuEvent, step: str, rules: FlowRules) -> bool:
    """After this answer the service chooses for the caller (0, or the last try): its next event is no answer."""
    if event.kind == EventKind.MENU_PERSON:
        return True
    return event.kind in (EventKind.MENU_NO_INPUT, EventKind.MENU_INVALID) and _tries(event) >= _max_tries(step, rules)


def tally(events: Iterable[MenuEvent], *, rules: Mapping[str, FlowRules] | None = None) -> MenuUsage:
    """Menu use per flow (line kind) and menu, from events grouped per call in the order they happened."""
    rules = {**DEFAULT_RULES, **(rules or {})}
    rows: dict[tuple[str, str, str], MenuRow] = {}
    previous: tuple[int, str] | None = None  # (call, step) whose next event the service itself decides
    for event in events:
        answer = _ANSWER_OF.get(event.kind)
        step = _step_of(event)
        flow = rules.get(event.line_kind, FlowRules())
        follows = previous == (event.call_id, step) or event.detail.get("by") == SERVICE
        previous = (event.call_id, step) if answer and _ends_the_menu(event, step, flow) else None
        if answer is None or not step or follows:
            continue
        if step == ORGANISATION_STEP and not flow.organisation_menu:
            continue
        organisation = (event.organisation or "") if step == TOPIC_STEP else ""
        row = rows.setdefault((event.line_kind, step, organisation), MenuRow(event.line_kind, step, organisation))
        setattr(row, answer.value, row.count(answer) + 1)
        if answer == Answer.CHOICE and event.detail.get("choice") == "more":
            row.next_page += 1
        if answer == Answer.INVALID and event.detail.get("reason") == "citizen_number":
            row.citizen_number += 1
    return _report(rows.values())


def _order(row: MenuRow) -> tuple[int, str, str]:
    known = list(STEP_NAMES)
    return (known.index(row.step) if row.step in known else len(known), row.step, row.organisation)


def _report(rows: Iterable[MenuRow]) -> MenuUsage:
    flows: dict[str, FlowUsage] = {}
    for row in sorted(rows, key=_order):
        flows.setdefault(row.line_kind, FlowUsage(row.line_kind)).menus.append(row)
    ordered = sorted(flows.values(), key=lambda f: (FLOW_ORDER.index(f.line_kind) if f.line_kind in FLOW_ORDER
                                                   else len(FLOW_ORDER), f.line_kind))
    return MenuUsage(ordered)


def _pct(answer: Answer) -> str:
    return f"{SIGNALS[answer][0] * 100:g} %"


# One written definition per figure, shown on the page and in the exports (Dutch, English).
DEFINITIONS: dict[str, tuple[str, str]] = {
    "answers": ("Beurten: elk antwoord op een menu (een keuze, 0, *, geen toets of een verkeerde toets). Een beller "
                "die het menu drie keer hoort, telt drie beurten.",
                "Answers: every answer to a menu (a choice, 0, *, no key or a wrong key). A caller who hears the menu "
                "three times counts three answers."),
    "choices": ("Keuze: een toets voor een van de keuzes, ook 'andere organisatie' (de volgende pagina), en een "
                "organisatie die op dat moment gesloten was of waar niemand aanwezig was. Bij het dossiernummer: een "
                "nummer, of hekje of stilte voor geen nummer.",
                "Choice: a key for one of the options, 'another organisation' (the next page) included, and an "
                "organisation that was closed or had nobody on duty. For the case reference: a number, or # or "
                "silence for none."),
    "person": ("0: de beller kiest een medewerker in plaats van een keuze.",
               "0: the caller asks for a person instead of choosing."),
    "repeat": ("*: de beller laat het menu herhalen.", "*: the caller has the menu said again."),
    "no_input": ("Geen toets: binnen de wachttijd van het menu geen toets (time-out). Na de laatste poging neemt een "
                 "medewerker het over.",
                 "No key: nothing pressed within the menu's time-out. After the last try a person takes over."),
    "invalid": ("Verkeerde toets: een toets die het menu niet kent. Bij het dossiernummer: een nummer met te weinig "
                "of te veel cijfers, of een nummer dat op een BSN lijkt.",
                "Wrong key: a key the menu does not know. For the case reference: a number too short or too long, "
                "or one that looks like a citizen service number."),
    "share": ("Aandeel: het aantal gedeeld door de beurten van dat menu.", "Share: the count / the menu's answers."),
    "not_counted": ("Niet geteld: de keuze die de dienst zelf maakt na 0 of na de laatste poging, en de organisatie "
                    "die een burgerlijn voor de beller kiest.",
                    "Not counted: the choice the service makes itself after 0 or the last try, and the organisation "
                    "a citizen line chooses for the caller."),
    "wrong_keys_only": ("Terugbelmenu's: daar wordt alleen een verkeerde toets vastgelegd (ja is een terugbelverzoek, "
                        "stilte of nee beëindigt het gesprek). Daarom geen beurten en aandelen, en niet in de totalen.",
                        "Callback menus: only a wrong key is written there (yes is a callback request, silence or no "
                        "ends the call). So no answers or shares, and not in the totals."),
    "signal": (f"Let op: een menu met minstens {MIN_ANSWERS} beurten waar 0 minstens {_pct(Answer.PERSON)}, * minstens "
               f"{_pct(Answer.REPEAT)}, geen toets minstens {_pct(Answer.NO_INPUT)} of een verkeerde toets minstens "
               f"{_pct(Answer.INVALID)} van de beurten is. Startwaarden, geen norm.",
               f"Attention: a menu with at least {MIN_ANSWERS} answers where 0 is at least {_pct(Answer.PERSON)}, * at "
               f"least {_pct(Answer.REPEAT)}, no key at least {_pct(Answer.NO_INPUT)} or a wrong key at least "
               f"{_pct(Answer.INVALID)} of the answers. Starting values, not a norm."),
    "period": ("Een beurt telt op de dag waarop hij gebeurde (Nederlandse tijd).",
               "An answer counts on the day it happened (Dutch time)."),
}
