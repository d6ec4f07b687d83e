"""The cases page counts a transfer (blind, consult or three-way) as collaboration between two organisations,
with how it went: on SQLite and PostgreSQL, calls written through the call store, figures counted by hand."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.case_repository import SqlCaseStore
from callrouter.domain.calls import EventKind
from callrouter.domain.staff import Grant, Role
from tests.integration.staff_fixtures import Staff
from tests.integration.test_dashboard import START, answered, call, log_in_as

K = EventKind

# Wednesday 25 November 2026 from 09:00 Amsterdam:
#   case X (AMS): x1 UWV ww answered by liaison 7 after 15 s, blind transfer to TSL at 80 s, TSL's liaison 9
#                 answers at 140 s and records "resolved"; the caseworker's verdict: yes
#   case Y (AMS): y1 UWV ww answered by 7, consult with SVB (asked at 40 s, liaison 11 joins at 50 s), completed
#                 at 90 s; nobody records an outcome
#   case Z (UTR): z1 DUO answered, no transfer
# Cases 3; multi-organisation 2 (TSL + UWV, SVB + UWV); transfers 2 in 2 cases:
#   UWV → SVB 1 (after a consult; answered, no outcome recorded), UWV → TSL 1 (blind; resolved; verdict yes).
# A TSL team lead: case X only, 1 transfer.


def _transfer(calls: SqlCallStore, sid: str, seconds: int, kind: str, to: str) -> None:
    assert calls.apply(sid, event=K.TRANSFERRED, at=START + timedelta(seconds=seconds), dedupe=f"transfer:{kind}",
                       detail={"kind": kind, "from_organisation": "UWV", "from_topic": "ww", "to_organisation": to,
                               "to_topic": "*", "liaison": 7}, organisation=to, topic="*") is not None


def _at(calls: SqlCallStore, sid: str, minute: int, seconds: int, event: EventKind, dedupe: str | None = None,
        **detail: object) -> None:
    moment = START + timedelta(minutes=minute, seconds=seconds)
    assert calls.apply(sid, event=event, at=moment, detail=detail, dedupe=dedupe) is not None


@pytest.fixture()
def staff_with_transfers(staff: Staff) -> Staff:
    sessions = staff.app.container.sessions
    calls, cases = SqlCallStore(sessions), SqlCaseStore(sessions)
    log_in_as(staff, "sup", Grant(Role.SUPERVISOR))
    call(calls, "x1", 0, "UWV", "ww", "AMS", "professional", [(K.QUEUED, 10, {}), (K.ANSWERED, 25, {"liaison": 7})])
    _transfer(calls, "x1", 80, "blind", "TSL")
    _at(calls, "x1", 0, 140, K.ANSWERED, "answered:2", liaison=9)
    _at(calls, "x1", 0, 290, K.COMPLETED, "ended", status="completed")
    _at(calls, "x1", 0, 291, K.VERDICT_ASKED)
    _at(calls, "x1", 0, 292, K.VERDICT, answer="yes")
    _at(calls, "x1", 0, 300, K.OUTCOME_RECORDED, "outcome:1", result="resolved", revision=1, liaison=9)
    call(calls, "y1", 10, "UWV", "ww", "AMS", "professional", [
        (K.QUEUED, 10, {}), (K.ANSWERED, 20, {"liaison": 7}),
        (K.CONSULT, 40, {"step": "asked", "to_organisation": "SVB", "to_topic": "*", "by": 7}),
        (K.CONSULT, 50, {"step": "answered", "liaison": 11})])
    assert calls.apply("y1", event=K.TRANSFERRED, at=START + timedelta(minutes=10, seconds=90), dedupe="transfer:c",
                       detail={"kind": "consult", "from_organisation": "UWV", "from_topic": "ww",
                               "to_organisation": "SVB", "to_topic": "*", "liaison": 7, "to_liaison": 11},
                       organisation="SVB", topic="*") is not None
    _at(calls, "y1", 10, 200, K.COMPLETED, "ended", status="completed")
    call(calls, "z1", 20, "DUO", "studiefinanciering", "UTR", "professional", answered(5))
    for worker, (sid, minute, location) in enumerate((("x1", 0, "AMS"), ("y1", 10, "AMS"), ("z1", 20, "UTR"))):
        cases.attach(call_sid=sid, caseworker_id=200 + worker, location=location, reference=None,
                     at=START + timedelta(minutes=minute))
    return staff


def test_the_page_counts_each_transfer_as_collaboration_with_how_it_went(staff_with_transfers: Staff) -> None:
    page = staff_with_transfers.client.get("/staff/dashboard/zaken")
    assert page.status_code == 200, page.text[:500]
    html = page.text
    for figure, value in (("cases", "3"), ("multi", "2"), ("transfers", "2"), ("with_transfer", "2")):
        assert f'data-figure="{figure}">{value}<' in html, figure
    assert ('<th scope="row">UWV → TSL</th><td>1</td><td>Blind doorverbonden (1)</td><td>Opgelost (1)</td>'
            '<td>Ja (1)</td>') in html
    assert ('<th scope="row">UWV → SVB</th><td>1</td><td>Na overleg (1)</td>'
            '<td>Opgenomen, geen uitkomst genoteerd (1)</td><td>–</td>') in html
    assert "opgeteld over organisaties kan het aantal gesprekken en zaken dus groter zijn" in html


def test_the_exports_hold_the_transfers_and_a_team_lead_sees_only_their_own(staff_with_transfers: Staff) -> None:
    client = staff_with_transfers.client
    body = json.loads(client.get("/staff/dashboard/zaken?format=json").text)
    assert body["collaboration"] == {"transfers": 2, "with_transfer": 2, "pairs": [
        {"organisations": "UWV → SVB", "transfers": 1, "kinds": {"consult": 1}, "results": {"no_outcome_recorded": 1},
         "verdicts": {}},
        {"organisations": "UWV → TSL", "transfers": 1, "kinds": {"blind": 1}, "results": {"resolved": 1},
         "verdicts": {"yes": 1}}]}
    assert sorted(c["organisations"] for c in body["combinations"]) == ["SVB + UWV", "TSL + UWV"]
    rows = list(csv.DictReader(io.StringIO(client.get("/staff/dashboard/zaken?format=csv").text)))
    assert {(r["section"], r["key"], r["cases"]) for r in rows if r["section"].startswith("transfer")} == {
        ("transfer", "UWV → SVB", "1"), ("transfer_kind", "UWV → SVB|consult", "1"),
        ("transfer_result", "UWV → SVB|no_outcome_recorded", "1"), ("transfer", "UWV → TSL", "1"),
        ("transfer_kind", "UWV → TSL|blind", "1"), ("transfer_result", "UWV → TSL|resolved", "1"),
        ("transfer_verdict", "UWV → TSL|yes", "1")}
    tsl = json.loads(client.get("/staff/dashboard/zaken?format=json&organisatie=TSL").text)
    assert tsl["totals"]["cases"] == 1 and tsl["collaboration"]["transfers"] == 1
    assert [p["organisations"] for p in tsl["collaboration"]["pairs"]] == ["UWV → TSL"]
