"""The research export's transfer chain and verdict columns, read from the events main writes: a transfer names
`from_organisation` and `to_organisation` (services/calls/transfer.py, consult.py), the verdict step writes a
`verdict` event with `answer` (services/calls/steps/verdict.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from callrouter.domain.calls import EventKind
from callrouter.domain.research import ResearchCall, research_row

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def row_of(events: list[tuple[EventKind, int, dict[str, object]]]) -> dict[str, object]:
    call = ResearchCall(id=1, received_at=T0, location="AMS", organisation="TSL", topic="huurtoeslag",
                        line_kind="professional",
                        events=[(kind.value, T0 + timedelta(seconds=s), detail) for kind, s, detail in events])
    return research_row(call, key=b"k" * 32, zone=ZoneInfo("Europe/Amsterdam"))


def test_the_chain_starts_where_the_call_was_answered_and_follows_each_transfer() -> None:
    row = row_of([(EventKind.QUEUED, 5, {}), (EventKind.ANSWERED, 20, {"liaison": 1}),
                  (EventKind.TRANSFERRED, 200, {"kind": "consult", "from_organisation": "UWV", "to_organisation": "TSL"}),
                  (EventKind.TRANSFERRED, 400, {"kind": "blind", "from_organisation": "TSL", "to_organisation": "SVB"}),
                  (EventKind.VERDICT, 600, {"answer": "partly"})])
    assert row["transfer_chain"] == "UWV>TSL>SVB"
    assert row["caseworker_verdict"] == "partly"


def test_no_transfer_no_chain_and_no_answer_no_verdict() -> None:
    row = row_of([(EventKind.QUEUED, 5, {}), (EventKind.ANSWERED, 20, {"liaison": 1}),
                  (EventKind.VERDICT_ASKED, 300, {})])
    assert row["transfer_chain"] in ("", None) and row["caseworker_verdict"] in ("", None)
