"""Many simultaneous calls over several web processes (uvicorn --workers 2, one Redis, one database):
never one call to two liaisons, never two calls to one liaison at the same time."""

from __future__ import annotations

import random
from collections import defaultdict

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.domain.calls import EventKind
from tests.e2e.stack import Stack
from tests.e2e.test_professional_line import bridged_with, liaison_legs
from twilio_emulator.people import Phone

LIAISONS = ["uwv-jan", "uwv-ingrid", "uwv-hasan", "tsl-marloes", "tsl-yusuf", "tsl-wendy", "duo-eva", "duo-ruben"]
CASEWORKERS = ["+31612345601", "+31612345602", "+31612345603"]  # Amsterdam: 1 UWV, 2 TSL, 3 DUO
CALLS = 40


def test_many_simultaneous_calls_each_reach_exactly_one_liaison_one_at_a_time(live: Stack) -> None:
    rng = random.Random(7)
    for code in LIAISONS:
        # 20 s of talk (simulated: 1 s real at the stack's 20x): a liaison who joined the room hangs up only after
        # the caller is in it, also when a busy machine holds the caller's redirect up (with 3 s, 0.15 s real, a
        # liaison once left before the caller came, the call went back in line and had two answers in the record)
        live.phone(code, Phone("answer", answer_after=0.5, talk_seconds=20))
        assert live.set_presence(code, "available").status_code == 200
    calls = [live.call(from_=rng.choice(CASEWORKERS), digits=["#", rng.choice("123"), rng.choice("1230")])
             for _ in range(CALLS)]
    for call in calls:
        call.wait_until_ended(timeout=120)

    # No call reached two liaisons, every call reached one.
    for call in calls:
        assert not call.events("application_error"), call.format()
        assert len(bridged_with(call)) == 1, call.format()  # bridged once (<Dial>), or one liaison heard (room)

    # No liaison was in two conversations at once: the spans in which each liaison's leg talked with a caller
    # (bridged by <Dial>, or hearing someone in the room) never overlap per address.
    intervals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for call in calls:
        for leg in liaison_legs(live, call):
            talking = [e.t for e in leg.transcript if e.kind == "bridged" or (e.kind == "hearing" and e.get("with"))]
            ended = [e.t for e in leg.transcript if e.kind in ("unbridged", "hangup", "conference_left")]
            intervals[leg.to].append((talking[0], max(ended)))
    assert sum(len(v) for v in intervals.values()) == CALLS
    for address, spans in intervals.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end, f"{address} had two calls at once"
    assert len(intervals) >= 6  # the work was spread over the liaisons

    # The record agrees: one answer per call, never a busy liaison (a double booking rings busy).
    store = SqlCallStore(make_session_factory(make_engine(live.database_url)))
    for call in calls:
        record = store.get(call.sid)
        assert record is not None and record.outcome == "answered"
        kinds = [e.kind for e in store.events(call.sid)]
        assert kinds.count(EventKind.ANSWERED) == 1 and EventKind.LIAISON_NO_ANSWER not in kinds
