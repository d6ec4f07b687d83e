"""Cases: the report of a period (the ports for attaching calls and reading cases are in callrouter.ports.cases).

The figures are decided by callrouter.domain.cases.case_report; this module reads the cases opened
in the period (their calls, events and liaison outcomes), decides each call's statistical outcome
from its event log, applies the filters and hands the rest to the domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from callrouter.domain.cases import IN_PROGRESS, NO_OUTCOME, CaseCall, CaseFacts, CaseReport, Handover, case_report
from callrouter.domain.evaluation import evaluation
from callrouter.domain.statistics import StatOutcome, decide_outcome
from callrouter.domain.statistics_totals import Dimensions
from callrouter.domain.statistics_transfers import call_parts
from callrouter.ports.cases import CaseReader, StoredCall, StoredCase


@dataclass(frozen=True)
class CaseFilters:
    first_day: date
    last_day: date
    organisation: str | None = None  # a filter, or a team lead's organisation: cases that touched it
    topic: str | None = None  # cases with a call on this topic
    location: str | None = None  # the counter the case was opened at
    line_kind: str | None = None  # cases with a call on this kind of line (cases are professional calls)


def _handovers(call: StoredCall) -> tuple[str | None, str | None, tuple[Handover, ...]]:
    """The organisation and topic chosen in the menu (the call row names the last one after a transfer) and the
    call's transfers, each with how it went at the organisation that took over."""
    parts = call_parts(Dimensions(organisation=call.organisation or "", topic=call.topic or ""), call.events)
    handed = []
    for (before, _), (after, facts) in zip(parts, parts[1:], strict=False):
        judged = facts.evaluation
        if judged.result is not None:
            result = judged.result
        elif facts.outcome in (StatOutcome.ANSWERED, StatOutcome.TRANSFERRED):
            result = NO_OUTCOME
        else:
            result = facts.outcome.value if facts.outcome else IN_PROGRESS
        handed.append(Handover(kind=facts.transfer_in or "blind", from_organisation=before.organisation,
                               to_organisation=after.organisation, result=result,
                               verdict=judged.verdict.value if judged.verdict else None))
    first = parts[0][0]
    return first.organisation or call.organisation, first.topic or call.topic, tuple(handed)


def _facts(case: StoredCase) -> CaseFacts:
    calls = []
    for _, call in sorted(case.calls.items()):
        organisation, topic, handed = _handovers(call)
        judged = evaluation(call.events)
        outcome = decide_outcome(call.events)
        calls.append(CaseCall(organisation=organisation, topic=topic, stat_outcome=outcome.value if outcome else None,
                              liaison_outcome=call.liaison_outcome, referred_organisation=call.referred_organisation,
                              verdict_asked=judged.verdict_asked, verdict=judged.verdict.value if judged.verdict else None,
                              transfers=handed))
    return CaseFacts(case.case_id, case.location, tuple(calls))


def _wanted(case: StoredCase, filters: CaseFilters) -> bool:
    calls = case.calls.values()
    if filters.topic and not any(c.topic == filters.topic for c in calls):
        return False
    return not (filters.line_kind and not any(c.line_kind == filters.line_kind for c in calls))


def report(reader: CaseReader, *, filters: CaseFilters) -> CaseReport:
    stored = reader.opened_between(first_day=filters.first_day, last_day=filters.last_day, location=filters.location)
    facts = [_facts(case) for case in stored if _wanted(case, filters)]
    return case_report(facts, organisation=filters.organisation)
