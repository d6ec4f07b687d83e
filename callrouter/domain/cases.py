"""Cases: calls of one caseworker about one question, and which organisations a case needed.

A caseworker may key in a short case reference of the counter's own (never a citizen's identity).
Calls of the same caseworker with the same reference form a case (for at most MAX_CASE_AGE from
its first call); calls without one form a case while each comes within the window (a setting) of
the case's last call. Only a keyed pseudonym of (caseworker, reference) is kept, never the digits.

The report counts, for the cases opened in a period, how many touched two or more organisations
(a call of the case chose that organisation), which combinations, per topic and counter, and with
what outcomes: the liaison's recorded outcome, else the call's statistical outcome. A referral
("verwezen naar") is reported on its own and does not count as touching the organisation referred to.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

MIN_REFERENCE_DIGITS = 2
MAX_REFERENCE_DIGITS = 12
BSN_DIGITS = 9
MAX_CASE_AGE = timedelta(days=30)
NO_OUTCOME = "no_outcome_recorded"  # answered, but the liaison recorded no outcome (yet)
IN_PROGRESS = "in_progress"  # the call has no outcome yet


class ReferenceKind(enum.Enum):
    NONE = "none"  # silence or '#' alone: go on without a reference
    VALID = "valid"
    CITIZEN_NUMBER = "citizen_number"  # 9 digits passing the BSN eleven-test: refused, never kept
    MALFORMED = "malformed"  # too short, too long, or not only digits


@dataclass(frozen=True)
class ReferenceInput:
    kind: ReferenceKind
    reference: str | None = None  # only for VALID


def passes_elfproef(digits: str) -> bool:
    """The BSN eleven-test: 9*d1 + 8*d2 + ... + 2*d8 - 1*d9 is a multiple of 11."""
    if len(digits) != BSN_DIGITS or not digits.isdigit():
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(w * int(d) for w, d in zip(weights, digits, strict=True)) % 11 == 0


def read_case_reference(digits: str | None) -> ReferenceInput:
    """What the caller keyed in: no reference, a valid one (2 to 12 digits), a citizen number, or malformed."""
    entered = (digits or "").strip().rstrip("#")
    if not entered:
        return ReferenceInput(ReferenceKind.NONE)
    if not entered.isdigit() or not MIN_REFERENCE_DIGITS <= len(entered) <= MAX_REFERENCE_DIGITS:
        return ReferenceInput(ReferenceKind.MALFORMED)
    if passes_elfproef(entered):
        return ReferenceInput(ReferenceKind.CITIZEN_NUMBER)
    return ReferenceInput(ReferenceKind.VALID, entered)


def reference_pseudonym(*, caseworker_id: int, reference: str, key: bytes) -> str:
    """HMAC-SHA256 of (caseworker, reference): the same reference of another caseworker is another case."""
    message = f"case-reference\x00{caseworker_id}\x00{reference}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class CasePolicy:
    window: timedelta = timedelta(minutes=30)  # calls without a reference: at most this apart
    max_age: timedelta = MAX_CASE_AGE  # calls with a reference: at most this after the case's first call


def open_key(*, caseworker_id: int, reference: str | None) -> str:
    """The key of a caseworker's current case for a reference (or for no reference); unique while current."""
    return f"{caseworker_id}:{reference or '-'}"


def still_current(*, opened_at: datetime, last_call_at: datetime, at: datetime, has_reference: bool,
                  policy: CasePolicy) -> bool:
    """Does a call at `at` join this case? With a reference: within max_age of its first call;
    without: within the window of its last call."""
    if has_reference:
        return at - opened_at <= policy.max_age
    return at - last_call_at <= policy.window


# --- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handover:
    """A transfer of a call (blind, consult or three-way) from one organisation to another: collaboration."""

    kind: str  # blind, consult, three_way
    from_organisation: str
    to_organisation: str
    # how it went: the recorded outcome of the liaison who took over, else the call's outcome there (answered
    # without a record: NO_OUTCOME; still waiting: IN_PROGRESS); and the caseworker's verdict after the call
    result: str
    verdict: str | None = None

    @property
    def pair(self) -> str:
        return f"{self.from_organisation} → {self.to_organisation}"


@dataclass(frozen=True)
class CaseCall:
    organisation: str | None  # the organisation chosen in the menu; None: the call never got that far
    topic: str | None
    stat_outcome: str | None  # callrouter.domain.statistics.StatOutcome value, None while in progress
    liaison_outcome: str | None = None  # callrouter.domain.staff.ConversationResult value
    referred_organisation: str | None = None
    verdict_asked: bool = False  # the caseworker heard the verdict question after this call
    verdict: str | None = None  # their answer (callrouter.domain.evaluation.Verdict value), None: none
    transfers: tuple[Handover, ...] = ()  # to other organisations, in order

    @property
    def organisations(self) -> set[str]:
        """The organisations the call reached: chosen in the menu and transferred to."""
        chosen = {self.organisation} if self.organisation else set()
        return chosen | {t.from_organisation for t in self.transfers} | {t.to_organisation for t in self.transfers}


@dataclass(frozen=True)
class CaseFacts:
    case_id: int
    location: str
    calls: tuple[CaseCall, ...]

    @property
    def organisations(self) -> tuple[str, ...]:
        return tuple(sorted({org for c in self.calls for org in c.organisations}))

    @property
    def multi(self) -> bool:
        return len(self.organisations) >= 2

    @property
    def combination(self) -> str:
        return " + ".join(self.organisations)

    @property
    def referred(self) -> tuple[str, ...]:
        return tuple(sorted({c.referred_organisation for c in self.calls if c.referred_organisation}))


def call_outcome(call: CaseCall) -> str:
    """The liaison's recorded outcome; else the call's statistical outcome (answered without a record: NO_OUTCOME)."""
    if call.liaison_outcome:
        return call.liaison_outcome
    if call.stat_outcome in ("answered", "transferred"):
        return NO_OUTCOME
    return call.stat_outcome or IN_PROGRESS


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: cases, of which multi-organisation, and their share."""

    key: str
    cases: int
    multi: int

    @property
    def share(self) -> float | None:
        return self.multi / self.cases if self.cases else None


@dataclass(frozen=True)
class Combination:
    organisations: str  # sorted codes joined with " + "
    cases: int
    referred: tuple[tuple[str, int], ...]  # (organisation referred to, cases), most first


@dataclass(frozen=True)
class VerdictRow:
    """The caseworkers' verdicts on the calls of one kind of case ("multi": several organisations, "single")."""

    key: str
    asked: int
    yes: int
    partly: int
    no: int

    @property
    def answered(self) -> int:
        return self.yes + self.partly + self.no

    def share(self, answer: str) -> float | None:
        return getattr(self, answer) / self.answered if self.answered else None


@dataclass(frozen=True)
class CollaborationRow:
    """The transfers from one organisation to another ("UWV → TSL"), by kind, result and verdict."""

    pair: str
    transfers: int
    kinds: tuple[tuple[str, int], ...]  # (blind | consult | three_way, count), most first
    results: tuple[tuple[str, int], ...]  # (a call_outcome key, count), most first
    verdicts: tuple[tuple[str, int], ...]  # (yes | partly | no, count), most first


@dataclass
class CaseReport:
    cases: int = 0
    multi: int = 0
    with_referral: int = 0  # cases with a referral to another organisation (any number of organisations)
    combinations: list[Combination] = field(default_factory=list)
    by_topic: list[Row] = field(default_factory=list)  # key "ORG topic"
    by_location: list[Row] = field(default_factory=list)
    outcomes: list[tuple[str, int]] = field(default_factory=list)  # calls of multi-organisation cases
    referred_to: list[tuple[str, int]] = field(default_factory=list)  # referrals in multi-organisation cases
    verdicts: list[VerdictRow] = field(default_factory=list)  # per kind of case: multi, single
    transfers: int = 0  # transfers between organisations in the cases (blind, consult, three-way)
    with_transfer: int = 0  # cases with at least one transfer
    collaborations: list[CollaborationRow] = field(default_factory=list)  # per pair of organisations

    @property
    def share(self) -> float | None:
        return self.multi / self.cases if self.cases else None


def _most_first(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _rows(cases: list[CaseFacts], keys_of: Callable[[CaseFacts], Iterable[str]]) -> list[Row]:
    total: Counter[str] = Counter()
    multi: Counter[str] = Counter()
    for case in cases:
        for key in set(keys_of(case)):
            total[key] += 1
            multi[key] += case.multi
    return [Row(key, count, multi[key]) for key, count in sorted(total.items(), key=lambda i: (-multi[i[0]], -i[1], i[0]))]


def _topics(case: CaseFacts) -> list[str]:
    return [f"{c.organisation} {c.topic}" for c in case.calls if c.organisation and c.topic]


def case_report(cases: Iterable[CaseFacts], *, organisation: str | None = None) -> CaseReport:
    """The figures for these cases. With an organisation (a filter, or a team lead's scope) only the cases
    that touched it count, and the outcome mix holds only that organisation's calls."""
    chosen = [c for c in cases if organisation is None or organisation in c.organisations]
    report = CaseReport(cases=len(chosen), multi=sum(c.multi for c in chosen),
                        with_referral=sum(bool(c.referred) for c in chosen))
    combos: Counter[str] = Counter()
    referred_per_combo: dict[str, Counter[str]] = {}
    outcomes: Counter[str] = Counter()
    referred_to: Counter[str] = Counter()
    for case in chosen:
        if not case.multi:
            continue
        combos[case.combination] += 1
        referred_per_combo.setdefault(case.combination, Counter()).update(case.referred)
        for call in case.calls:
            if organisation is not None and organisation not in call.organisations:
                continue
            outcomes[call_outcome(call)] += 1
            if call.referred_organisation:
                referred_to[call.referred_organisation] += 1
    report.combinations = [Combination(name, count, tuple(_most_first(referred_per_combo[name])))
                           for name, count in _most_first(combos)]
    report.by_topic = _rows(chosen, _topics)
    report.by_location = _rows(chosen, lambda case: [case.location])
    report.outcomes = _most_first(outcomes)
    report.referred_to = _most_first(referred_to)
    report.verdicts = [_verdicts(key, [c for c in chosen if c.multi == multi], organisation)
                       for key, multi in (("multi", True), ("single", False))]
    handed = [(case, t) for case in chosen for call in case.calls for t in call.transfers
              if organisation is None or organisation in (t.from_organisation, t.to_organisation)]
    report.transfers = len(handed)
    report.with_transfer = len({case.case_id for case, _ in handed})
    report.collaborations = _collaborations([t for _, t in handed])
    return report


def _collaborations(handed: list[Handover]) -> list[CollaborationRow]:
    pairs: dict[str, list[Handover]] = {}
    for transfer in handed:
        pairs.setdefault(transfer.pair, []).append(transfer)
    rows = [CollaborationRow(pair, len(found), tuple(_most_first(Counter(t.kind for t in found))),
                             tuple(_most_first(Counter(t.result for t in found))),
                             tuple(_most_first(Counter(t.verdict for t in found if t.verdict))))
            for pair, found in pairs.items()]
    return sorted(rows, key=lambda row: (-row.transfers, row.pair))


def _verdicts(key: str, cases: list[CaseFacts], organisation: str | None) -> VerdictRow:
    calls = [call for case in cases for call in case.calls if organisation is None or organisation in call.organisations]
    count = Counter(call.verdict for call in calls if call.verdict)
    return VerdictRow(key, sum(call.verdict_asked for call in calls), count["yes"], count["partly"], count["no"])


# One written definition per figure, shown next to it on the page and in the export (Dutch, English).
DEFINITIONS: dict[str, tuple[str, str]] = {
    "cases": ("Zaken die in de periode begonnen: gesprekken van één medewerker van een loket met hetzelfde eigen "
              "dossiernummer (tot 30 dagen na het eerste gesprek), of zonder nummer binnen {window} minuten na "
              "het vorige gesprek.",
              "Cases opened in the period: calls of one caseworker with the same own case reference (up to 30 days "
              "after the first call), or without one within {window} minutes of the previous call."),
    "multi": ("Zaken waarin gesprekken met twee of meer organisaties zijn gekozen (ook als een gesprek niet is "
              "opgenomen) of waarin een gesprek naar een andere organisatie is doorverbonden. Een doorverwijzing "
              "telt niet als contact met die organisatie.",
              "Cases with calls to two or more organisations (chosen in the menu, answered or not) or with a call "
              "transferred to another organisation. A referral does not count as contact with the organisation "
              "referred to."),
    "share": ("Zaken met meerdere organisaties gedeeld door alle zaken.", "Multi-organisation cases / all cases."),
    "combinations": ("Per zaak met meerdere organisaties: de codes van die organisaties op alfabet, met ' + '.",
                     "Per multi-organisation case: its organisation codes, sorted, joined with ' + '."),
    "referred": ("Verwezen naar: de organisatie die een medewerker van een organisatie als uitkomst noteerde "
                 "('doorverwezen naar een andere organisatie').",
                 "Referred to: the organisation a liaison recorded as the outcome 'referred to another organisation'."),
    "outcomes": ("Uitkomst per gesprek in zaken met meerdere organisaties: de uitkomst die de medewerker noteerde; "
                 "anders de uitkomst van het gesprek (bijvoorbeeld opgehangen in de wachtrij).",
                 "Outcome per call in multi-organisation cases: the liaison's recorded outcome; else the call's "
                 "outcome (e.g. abandoned in the queue)."),
    "collaboration": ("Samenwerking: elk doorverbonden gesprek (blind, na overleg of met z'n drieën) telt als "
                      "samenwerking tussen de organisatie die doorverbond en de organisatie die het overnam, ook "
                      "zonder dossiernummer; de zaak telt daarmee voor beide organisaties. Hoe het ging: de "
                      "uitkomst die de medewerker van de overnemende organisatie noteerde (anders de uitkomst van "
                      "het gesprek daar), en het oordeel van het loket na het gesprek.",
                      "Collaboration: every transferred call (blind, after a consult or three-way) counts as "
                      "collaboration between the organisation that transferred and the one that took over, also "
                      "without a case reference; the case then counts for both. How it went: the outcome recorded by "
                      "the liaison who took over (else the call's outcome there), and the caseworker's verdict "
                      "after the call."),
    "verdicts": ("Oordeel van de medewerker van het loket na het gesprek (op lijnen waar die vraag aanstaat): "
                 "'Is uw vraag beantwoord?' 1 ja, 2 deels, 3 nee. Per soort zaak: met meerdere organisaties of met "
                 "één; gevraagd, beantwoord, en het deel ja, deels en nee van de antwoorden.",
                 "The caseworker's verdict after the call (on lines where the question is on): 'Was your question "
                 "answered?' 1 yes, 2 partly, 3 no. Per kind of case: several organisations or one; asked, answered, "
                 "and the share of yes, partly and no among the answers."),
}
