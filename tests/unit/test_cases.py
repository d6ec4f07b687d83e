"""Cases in the domain: the case reference (BSN eleven-test, parsing, pseudonym), when a call joins a case,
the report figures on a fixed set of cases computed by hand, and the flow file switch."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callrouter.adapters.flow_files import load_flows, parse_flow
from callrouter.domain.cases import (
    NO_OUTCOME,
    CaseCall,
    CaseFacts,
    CasePolicy,
    ReferenceKind,
    case_report,
    open_key,
    passes_elfproef,
    read_case_reference,
    reference_pseudonym,
    still_current,
)
from callrouter.domain.flow_lint import lint_flow

FLOWS = Path(__file__).resolve().parents[2] / "ivr_flows"


# 111222333: 9+8+7+12+10+8+9+6-3 = 66 = 6*11; 123456782: 9+16+21+24+25+24+21+16-2 = 154 = 14*11;
# 999999990: 9*44 - 0 = 396 = 36*11.
@pytest.mark.parametrize("number", ["111222333", "123456782", "999999990"])
def test_numbers_that_pass_the_eleven_test_are_citizen_numbers(number: str) -> None:
    assert passes_elfproef(number)
    assert read_case_reference(number).kind == ReferenceKind.CITIZEN_NUMBER
    assert read_case_reference(number).reference is None  # never handed on


# 123456789: 156 - 9 = 147 = 13*11 + 4; 111222334: 66 - 1 = 65; an 8 or 10 digit number is no BSN.
@pytest.mark.parametrize("number", ["123456789", "111222334", "12345678", "1234567890"])
def test_numbers_that_fail_the_eleven_test_or_have_another_length_are_valid_references(number: str) -> None:
    assert not passes_elfproef(number)
    assert read_case_reference(number) == read_case_reference(number + "#")
    assert read_case_reference(number).kind == ReferenceKind.VALID
    assert read_case_reference(number).reference == number


@pytest.mark.parametrize("digits, kind", [
    ("", ReferenceKind.NONE), (None, ReferenceKind.NONE), ("#", ReferenceKind.NONE), ("  ", ReferenceKind.NONE),
    ("7", ReferenceKind.MALFORMED), ("1234567890123", ReferenceKind.MALFORMED), ("12*4", ReferenceKind.MALFORMED),
    ("12", ReferenceKind.VALID), ("000000000001", ReferenceKind.VALID), ("0042", ReferenceKind.VALID),
])
def test_reference_parsing(digits: str | None, kind: ReferenceKind) -> None:
    assert read_case_reference(digits).kind == kind


def test_the_pseudonym_is_keyed_and_per_caseworker() -> None:
    one = reference_pseudonym(caseworker_id=1, reference="4711", key=b"k1")
    assert one == reference_pseudonym(caseworker_id=1, reference="4711", key=b"k1")
    assert one != reference_pseudonym(caseworker_id=2, reference="4711", key=b"k1")
    assert one != reference_pseudonym(caseworker_id=1, reference="4711", key=b"k2")
    assert "4711" not in one and len(one) == 32


def test_when_a_call_joins_a_case() -> None:
    policy = CasePolicy(window=timedelta(minutes=30), max_age=timedelta(days=30))
    opened = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    last = opened + timedelta(minutes=20)
    # Without a reference: within 30 minutes of the last call (not of the first).
    assert still_current(opened_at=opened, last_call_at=last, at=last + timedelta(minutes=30), has_reference=False,
                         policy=policy)
    assert not still_current(opened_at=opened, last_call_at=last, at=last + timedelta(minutes=31),
                             has_reference=False, policy=policy)
    # With a reference: up to 30 days after the first call, however long the pause.
    assert still_current(opened_at=opened, last_call_at=last, at=opened + timedelta(days=30), has_reference=True,
                         policy=policy)
    assert not still_current(opened_at=opened, last_call_at=last, at=opened + timedelta(days=30, seconds=1),
                             has_reference=True, policy=policy)
    assert open_key(caseworker_id=3, reference=None) != open_key(caseworker_id=3, reference="abc")


def _call(org: str | None, topic: str | None, stat: str | None = "answered", liaison: str | None = None,
          referred: str | None = None) -> CaseCall:
    return CaseCall(org, topic, stat, liaison, referred)


# Six cases, by hand:
#   1 AMS: UWV ww (resolved), SVB aow (referred to TSL)        -> SVB + UWV, referral TSL
#   2 AMS: UWV ww (follow_up), SVB aow (abandoned in queue)     -> SVB + UWV
#   3 UTR: DUO sf (resolved)                                    -> one organisation
#   4 UTR: UWV wia (referred to CAK)                            -> one organisation, a referral (CAK not touched)
#   5 AMS: CJIB boete (answered, nothing recorded), TSL huur (not_for_us), UWV ww (callback) -> CJIB + TSL + UWV
#   6 ENS: a call that never chose an organisation (abandoned in the menu) -> no organisation
CASES = [
    CaseFacts(1, "AMS", (_call("UWV", "ww", liaison="resolved"), _call("SVB", "aow", liaison="referred", referred="TSL"))),
    CaseFacts(2, "AMS", (_call("UWV", "ww", liaison="follow_up"), _call("SVB", "aow", stat="abandoned_in_queue"))),
    CaseFacts(3, "UTR", (_call("DUO", "sf", liaison="resolved"),)),
    CaseFacts(4, "UTR", (_call("UWV", "wia", liaison="referred", referred="CAK"),)),
    CaseFacts(5, "AMS", (_call("CJIB", "boete"), _call("TSL", "huur", liaison="not_for_us"),
                         _call("UWV", "ww", stat="callback_requested"))),
    CaseFacts(6, "ENS", (_call(None, None, stat="abandoned_in_menu"),)),
]


def test_the_report_on_a_fixed_set_of_cases() -> None:
    report = case_report(CASES)
    assert (report.cases, report.multi, report.with_referral) == (6, 3, 2)
    assert report.share == pytest.approx(0.5)
    assert [(c.organisations, c.cases, c.referred) for c in report.combinations] == [
        ("SVB + UWV", 2, (("TSL", 1),)), ("CJIB + TSL + UWV", 1, ())]
    # Topics: UWV ww in cases 1, 2, 5 (all multi); SVB aow 1, 2; CJIB boete 5; TSL huur 5; DUO sf 3; UWV wia 4.
    assert [(r.key, r.cases, r.multi) for r in report.by_topic] == [
        ("UWV ww", 3, 3), ("SVB aow", 2, 2), ("CJIB boete", 1, 1), ("TSL huur", 1, 1), ("DUO sf", 1, 0),
        ("UWV wia", 1, 0)]
    # Counters, most multi-organisation cases first, then most cases: AMS 1, 2, 5 (3 multi); UTR 3, 4; ENS 6.
    assert [(r.key, r.cases, r.multi) for r in report.by_location] == [("AMS", 3, 3), ("UTR", 2, 0), ("ENS", 1, 0)]
    # Calls of multi cases: resolved 1, referred 1, follow_up 1, abandoned_in_queue 1, answered without a record 1,
    # not_for_us 1, callback_requested 1.
    assert dict(report.outcomes) == {"resolved": 1, "referred": 1, "follow_up": 1, "abandoned_in_queue": 1,
                                     NO_OUTCOME: 1, "not_for_us": 1, "callback_requested": 1}
    assert report.referred_to == [("TSL", 1)]  # CAK's referral is in a one-organisation case


def test_a_team_lead_sees_only_cases_that_touched_their_organisation_and_their_own_calls() -> None:
    report = case_report(CASES, organisation="UWV")
    assert (report.cases, report.multi, report.with_referral) == (4, 3, 2)  # cases 1, 2, 4, 5
    assert [(c.organisations, c.cases) for c in report.combinations] == [("SVB + UWV", 2), ("CJIB + TSL + UWV", 1)]
    assert dict(report.outcomes) == {"resolved": 1, "follow_up": 1, "callback_requested": 1}  # UWV calls only
    assert report.referred_to == []  # the referral to TSL was SVB's
    # CAK was only referred to: not touched.
    assert case_report(CASES, organisation="CAK").cases == 0
    assert case_report([]).share is None


def test_the_demo_professional_flow_asks_for_a_case_reference_and_every_flow_lints_clean() -> None:
    flows = load_flows(FLOWS)
    assert flows["professional"].case_reference and not flows["citizen"].case_reference
    for flow in flows.values():
        assert lint_flow(flow) == []


def test_the_switch_needs_identification_and_its_prompts() -> None:
    text = (FLOWS / "citizen.yaml").read_text(encoding="utf-8").replace("max_tries: 3", "max_tries: 3\ncase_reference: true")
    flow, problems = parse_flow(text, "citizen.yaml")
    assert flow is None
    assert any("case_reference needs the identify step" in p for p in problems)
    assert any("prompt nl.case_reference_question is missing" in p for p in problems)
    pro = (FLOWS / "professional.yaml").read_text(encoding="utf-8")
    flow, problems = parse_flow(pro.replace("case_reference: true", "case_reference: maybe"), "professional.yaml")
    assert flow is None and any("case_reference must be true or false" in p for p in problems)


def test_the_linter_catches_a_long_refusal() -> None:
    flow = load_flows(FLOWS)["professional"]
    long = dict(flow.prompts["nl"], case_reference_citizen_number=" ".join(["woord."] * 40))
    findings = lint_flow(dataclasses.replace(flow, prompts={**flow.prompts, "nl": long}))
    assert any(f.field == "prompts.nl.case_reference_citizen_number" and "with the question" in f.message
               for f in findings)
