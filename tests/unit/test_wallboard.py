"""The wallboard's rules on fakes of its port: what each move counts, the day, the figures, the filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callrouter.domain.calls import CallRecord, CallState, Outcome
from callrouter.domain.directory import Liaison
from callrouter.domain.statistics import StatsPolicy
from callrouter.ports.calls import LiveDims, LiveOrgState, LiveWaiting
from callrouter.services.statistics import wallboard
from callrouter.services.statistics.wallboard import LiveBoard, LiveFilters, LivePolicy, read_wallboard
from callrouter.web.wallboard.view import duration

AMS = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class FakeCounters:
    def __init__(self, states: list[LiveOrgState] | None = None) -> None:
        self.moves: list[tuple[str, date, LiveDims, tuple[str, ...], int | None, bool]] = []
        self.states = states or []

    def count(self, *, call_sid: str, day: date, dims: LiveDims, metrics: Sequence[str],
              waiting_since_ms: int | None = None, left_queue: bool = False) -> int:
        self.moves.append((call_sid, day, dims, tuple(metrics), waiting_since_ms, left_queue))
        return len(metrics)

    def read(self, *, organisations: Sequence[str], day: date) -> list[LiveOrgState]:
        return [s for s in self.states if s.organisation in organisations]

    def replace(self, *, organisation: str, day: date, counts: Mapping[LiveDims, Mapping[str, int]],
                waiting: Sequence[LiveWaiting]) -> None: ...

    def sync_waiting(self, *, organisation: str, waiting: Sequence[LiveWaiting], before_ms: int) -> tuple[int, int]:
        return 0, 0


class FakeDirectory:
    def liaisons_of(self, org_code: str) -> list[Liaison]:
        return {"UWV": [Liaison(1, "uwv-jan", "Jan", "UWV", ("ww",), "client:jan"),
                        Liaison(2, "uwv-ingrid", "Ingrid", "UWV", ("wia",), "client:ingrid"),
                        Liaison(3, "uwv-hasan", "Hasan", "UWV", ("ww", "wia"), "06")]}.get(org_code, [])


def record(*, received: datetime = T0, queued: float | None = 10, answered: float | None = None, org: str = "UWV",
           location: str | None = "AMS") -> CallRecord:
    return CallRecord(sid="CA1", line_number="+31850001000", line_kind="professional", caller_pseudonym="p",
                      caller_masked="m", state=CallState.QUEUED, received_at=received, location=location,
                      organisation=org, topic="ww",
                      queued_at=None if queued is None else received + timedelta(seconds=queued),
                      answered_at=None if answered is None else received + timedelta(seconds=answered))


def board(counters: FakeCounters, *, threshold: int = 20, short: float = 5) -> LiveBoard:
    return LiveBoard(counters, LivePolicy(zone=AMS, stats=StatsPolicy(short_abandon_seconds=short,
                                                                      answer_thresholds_seconds=(threshold, 60))))


def test_queued_counts_offered_and_joins_the_waiting_calls() -> None:
    fake = FakeCounters()
    wallboard.on_queued(board(fake), record())
    assert fake.moves == [("CA1", date(2026, 11, 25), ("UWV", "ww", "AMS", "professional"), ("offered",),
                           int((T0 + timedelta(seconds=10)).timestamp() * 1000), False)]


@pytest.mark.parametrize(("answered", "metrics"), [(30, ("answered", "answered_within")),  # 20 s: within
                                                   (30.001, ("answered",))])
def test_answered_within_the_first_threshold_is_at_most_t(answered: float, metrics: tuple[str, ...]) -> None:
    fake = FakeCounters()
    wallboard.on_answered(board(fake), record(answered=answered))
    assert fake.moves[0][3] == metrics and fake.moves[0][5] is True


@pytest.mark.parametrize(("wait", "metrics"), [(5, ("abandoned", "short_abandoned")), (5.5, ("abandoned",))])
def test_an_abandon_within_s_seconds_is_short(wait: float, metrics: tuple[str, ...]) -> None:
    fake = FakeCounters()
    wallboard.on_ended(board(fake), record(), outcome=Outcome.ABANDONED_IN_QUEUE,
                       at=T0 + timedelta(seconds=10 + wait))
    assert fake.moves[0][3] == metrics and fake.moves[0][5] is True


def test_other_ends_count_nothing_but_leave_the_queue() -> None:
    fake = FakeCounters()
    for outcome in (Outcome.ANSWERED, Outcome.FAILED, Outcome.CALLBACK_REQUESTED):
        wallboard.on_ended(board(fake), record(), outcome=outcome, at=T0 + timedelta(minutes=1))
    assert [m[3] for m in fake.moves] == [(), (), ()] and all(m[5] for m in fake.moves)


def test_no_board_or_no_organisation_counts_nothing_and_a_failing_port_never_breaks_a_call() -> None:
    wallboard.on_queued(None, record())
    fake = FakeCounters()
    wallboard.on_queued(board(fake), record(org=""))
    assert fake.moves == []

    class Broken(FakeCounters):
        def count(self, **_kwargs: object) -> int:  # type: ignore[override]
            raise ConnectionError("redis down")

    wallboard.on_queued(board(Broken()), record())  # logged, not raised


@pytest.mark.parametrize(("moment", "day"), [
    (datetime(2026, 3, 28, 22, 59, 59, tzinfo=UTC), date(2026, 3, 28)),  # CET: midnight is 23:00 UTC
    (datetime(2026, 3, 28, 23, 0, 0, tzinfo=UTC), date(2026, 3, 29)),
    (datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC), date(2026, 3, 29)),  # CEST: midnight is 22:00 UTC
    (datetime(2026, 3, 29, 22, 0, 0, tzinfo=UTC), date(2026, 3, 30)),
    (datetime(2026, 10, 24, 21, 59, 59, tzinfo=UTC), date(2026, 10, 24)),
    (datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC), date(2026, 10, 25)),  # 25 hours long
    (datetime(2026, 10, 25, 23, 0, 0, tzinfo=UTC), date(2026, 10, 26)),
])
def test_a_call_counts_on_the_amsterdam_day_it_arrived(moment: datetime, day: date) -> None:
    fake = FakeCounters()
    wallboard.on_queued(board(fake), record(received=moment))
    assert fake.moves[0][1] == day


WW = ("UWV", "ww", "AMS", "professional")
CIT = ("UWV", "ww", "", "citizen")
WIA = ("UWV", "wia", "UTR", "professional")


def test_the_read_sums_rows_filters_and_counts_liaisons_per_presence() -> None:
    now = T0 + timedelta(minutes=5)
    ms = int(now.timestamp() * 1000)
    state = LiveOrgState("UWV", counts={WW: {"offered": 4, "answered": 2, "answered_within": 1, "abandoned": 2,
                                            "short_abandoned": 1},
                                        CIT: {"offered": 1, "abandoned": 1},
                                        WIA: {"offered": 1, "answered": 1, "answered_within": 1}},
                         waiting=[("CA7", WW, ms - 45_000), ("CA8", WW, ms - 5_000), ("CA9", WIA, ms - 90_000)],
                         liaisons=[(1, "busy", ("ww",)), (2, "away", ("wia",))])
    fake = FakeCounters([state, LiveOrgState("DUO", {}, [], [])])
    wall = read_wallboard(board(fake), FakeDirectory(), now=now, organisations=["UWV", "DUO"], filters=LiveFilters())
    assert [r.dims for r in wall.rows] == sorted([WW, CIT, WIA])
    t = wall.totals
    assert (t.offered, t.answered, t.answered_within, t.abandoned, t.short_abandoned, t.waiting) == (6, 3, 2, 3, 1, 3)
    assert t.service_level == 2 / (3 + 3 - 1) and t.oldest_wait_seconds(now) == 90.0
    assert wall.liaisons["UWV"] == {"available": 0, "busy": 1, "wrap_up": 0, "away": 1, "offline": 1}
    assert wall.liaison_totals["offline"] == 1 and wall.liaisons["DUO"]["offline"] == 0

    ww = read_wallboard(board(fake), FakeDirectory(), now=now, organisations=["UWV", "DUO"],
                        filters=LiveFilters(organisation="UWV", topic="ww", location="AMS"))
    assert [r.dims for r in ww.rows] == [WW] and ww.totals.waiting == 2 and ww.totals.oldest_wait_seconds(now) == 45.0
    assert ww.totals.service_level == 1 / 3
    assert ww.liaisons == {"UWV": {"available": 0, "busy": 1, "wrap_up": 0, "away": 0, "offline": 1}}  # ww only
    assert read_wallboard(board(fake), FakeDirectory(), now=now, organisations=["DUO"],
                          filters=LiveFilters()).rows == []


def test_no_judged_call_gives_no_service_level() -> None:
    figures = wallboard.LiveFigures(answered=0, abandoned=1, short_abandoned=1)
    assert figures.judged == 0 and figures.service_level is None


@pytest.mark.parametrize(("seconds", "text"), [(None, "–"), (0, "0 s"), (59.9, "59 s"), (60, "1 min 00 s"),
                                               (125, "2 min 05 s")])
def test_durations_are_written_out(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text
