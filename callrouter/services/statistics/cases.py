"""Cases: the report of a period (the ports for attaching calls and reading cases are in callrouter.ports.cases).

The figures are decided by callrouter.domain.cases.case_report; this module reads the cases opened
in the period (their calls, events and liaison outcomes), decides each call's statistical outcome
from its event log, applies the filters and hands the rest to the domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from callrouter.domain.cases import CaseCall, CaseFacts, CaseReport, case_report
from callrouter.domain.evaluation import evaluation
from callrouter.domain.statistics import decide_outcome
from callrouter.ports.cases import CaseReader, StoredCase


@dataclass(frozen=True)
class CaseFilters:
    first_day: date
    last_day: date
    organisation: str | None = None  # a filter, or a team lead's organisation: cases that touched it
    topic: str | None = None  # cases with a call on this topic
    location: str | None = None  # the counter the case was opened at
    line_kind: str | None = None  # cases with a call on this kind of line (cases are professional calls)


def _facts(case: StoredCase) -> CaseFacts:
    calls = tuple(
        CaseCall(organisation=call.organisation, topic=call.topic,
                 stat_outcome=(outcome.value if (outcome := decide_outcome(call.events)) else None),
                 liaison_outcome=call.liaison_outcome, referred_organisation=call.referred_organisation,
                 verdict_asked=(judged := evaluation(call.events)).verdict_asked,
                 verdict=judged.verdict.value if judged.verdict else None)
        for _, call in sorted(case.calls.items()))
    return CaseFacts(case.case_id, case.location, calls)


def _wanted(case: StoredCase, filters: CaseFilters) -> bool:
    calls = case.calls.values()
    if filters.topic and not any(c.topic == filters.topic for c in calls):
        return False
    return not (filters.line_kind and not any(c.line_kind == filters.line_kind for c in calls))


def report(reader: CaseReader, *, filters: CaseFilters) -> CaseReport:
    stored = reader.opened_between(first_day=filters.first_day, last_day=filters.last_day, location=filters.location)
    facts = [_facts(case) for case in stored if _wanted(case, filters)]
    return case_report(facts, organisation=filters.organisation)
