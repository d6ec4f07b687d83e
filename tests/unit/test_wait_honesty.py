"""Honest expected waits: how each announcement is judged, and the figures, computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callrouter.domain.wait_honesty import (
    DEFINITIONS,
    HONEST_TARGET,
    AnnouncedCall,
    Announcement,
    Figures,
    TargetState,
    Verdict,
    figures,
    honesty_report,
    judge,
)

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def said(seconds: float, estimate: int | None) -> Announcement:
    return Announcement(at=at(seconds), estimate_s=estimate)


def a_call(org: str, *announcements: Announcement, events: tuple[tuple[str, float], ...] = ()) -> AnnouncedCall:
    return AnnouncedCall.from_events(organisation=org, announcements=announcements,
                                     events=[(kind, at(seconds)) for kind, seconds in events])


@pytest.mark.parametrize("answered, verdict, off", [
    (30, Verdict.HONEST, None),
    (120, Verdict.HONEST, None),  # exactly at the estimate: honest
    (121, Verdict.TOO_SHORT, 1.0),
    (300, Verdict.TOO_SHORT, 180.0),
])
def test_an_answer_within_the_estimate_is_honest_a_later_one_too_short(answered: int, verdict: Verdict,
                                                                      off: float | None) -> None:
    judged = judge(said(0, 120), answered_at=at(answered), left_at=None)
    assert judged.verdict == verdict and judged.off_s == off


def test_the_estimate_counts_from_the_announcement_not_from_entering_the_queue() -> None:
    # Said after 31 s of waiting: "about 2 minutes"; answered 150 s after entering = 119 s after the announcement.
    assert judge(said(31, 120), answered_at=at(150), left_at=None).verdict == Verdict.HONEST
    assert judge(said(31, 120), answered_at=at(152), left_at=None).verdict == Verdict.TOO_SHORT


@pytest.mark.parametrize("left, verdict, off", [
    (60, Verdict.LEFT_EARLY, None),  # hung up before the estimate ran out: we cannot know
    (120, Verdict.LEFT_EARLY, None),  # exactly when it ran out: proves nothing either way
    (200, Verdict.TOO_SHORT, 80.0),  # still waiting when it ran out, then hung up
])
def test_a_caller_who_left_is_judged_only_after_the_estimate_ran_out(left: int, verdict: Verdict,
                                                                    off: float | None) -> None:
    judged = judge(said(0, 120), answered_at=None, left_at=at(left))
    assert judged.verdict == verdict and judged.off_s == off


def test_a_callback_asked_after_the_estimate_ran_out_is_too_short() -> None:
    call = a_call("UWV", said(0, 120), events=(("callback_requested", 150), ("completed", 170)))
    assert call.left_at == at(150) and call.answered_at is None
    judged = judge(call.announcements[0], answered_at=call.answered_at, left_at=call.left_at)
    assert judged.verdict == Verdict.TOO_SHORT and judged.off_s == 30.0


def test_wait_unknown_is_not_judged_and_a_call_still_waiting_not_yet() -> None:
    assert judge(said(0, None), answered_at=at(10), left_at=None).verdict == Verdict.UNKNOWN
    assert judge(said(0, 120), answered_at=None, left_at=None).verdict == Verdict.OPEN
    counted = figures([a_call("UWV", said(0, None), events=(("answered", 10),)), a_call("UWV", said(0, 60))])
    assert (counted.announcements, counted.unknown, counted.judged, counted.not_judged) == (2, 1, 0, 1)
    assert counted.share_honest is None and counted.state() == TargetState.NO_DATA


def test_two_announcements_on_one_call_are_judged_each_from_their_own_moment() -> None:
    # Said at 0 s and at 90 s, both "2 minutes"; answered at 180 s: the first 60 s too short, the second honest.
    call = a_call("UWV", said(90, 120), said(0, 120), events=(("answered", 180), ("completed", 300)))
    assert [a.at for a in call.announcements] == [at(0), at(90)]  # in the order said
    assert [judge(a, answered_at=call.answered_at, left_at=call.left_at).verdict for a in call.announcements] == [
        Verdict.TOO_SHORT, Verdict.HONEST]
    counted = figures([call])
    assert (counted.calls, counted.announcements, counted.honest, counted.too_short) == (1, 2, 1, 1)
    assert counted.off_median_s == 60.0 and counted.share_honest == 0.5


def test_events_twice_or_out_of_order_change_nothing() -> None:
    call = a_call("UWV", said(0, 120), events=(("completed", 400), ("answered", 130), ("answered", 110),
                                                ("completed", 300)))
    assert call.answered_at == at(110) and call.left_at == at(300)
    assert judge(call.announcements[0], answered_at=call.answered_at, left_at=call.left_at).verdict == Verdict.HONEST
    ignored = a_call("UWV", said(0, 120), events=(("status", 20), ("offered", 50), ("queued", -31)))
    assert ignored.answered_at is None and ignored.left_at is None


def test_the_figures_in_total_and_per_organisation() -> None:
    """By hand:
    UWV  A est 120, answered at 100: honest; B est 60, answered at 90: 30 s short;
         C est 60, hung up at 160: 100 s short.
    SVB  D est 120, answered at 120: honest, and "wait unknown" at 30; E est 120, hung up at 50: left early;
         F est 30, nothing yet: open; G est 30, answered at 40: 10 s short.
    All: 7 calls, 8 announcements, 1 unknown, honest 2, too short 3, judged 5 -> 40 %; not judged 2 (E, F).
         Too short by [10, 30, 100]: median rank ceil(1.5) = 2 -> 30 s; p90 rank ceil(2.7) = 3 -> 100 s.
    UWV: 1 / 3 honest; [30, 100]: median rank 1 -> 30, p90 rank ceil(1.8) = 2 -> 100.
    SVB: 1 / 2 honest; [10]: median and p90 10.
    """
    calls = [
        a_call("UWV", said(0, 120), events=(("answered", 100), ("completed", 200))),
        a_call("UWV", said(0, 60), events=(("answered", 90),)),
        a_call("UWV", said(0, 60), events=(("abandoned", 160),)),
        a_call("SVB", said(0, 120), said(30, None), events=(("answered", 120),)),
        a_call("SVB", said(0, 120), events=(("abandoned", 50),)),
        a_call("SVB", said(0, 30)),
        a_call("SVB", said(0, 30), events=(("answered", 40),)),
    ]
    report = honesty_report(calls)
    total = report.total
    assert (total.calls, total.announcements, total.unknown, total.honest, total.too_short, total.judged,
            total.left_early, total.still_open, total.not_judged) == (7, 8, 1, 2, 3, 5, 1, 1, 2)
    assert total.share_honest == pytest.approx(0.4)
    assert (total.off_median_s, total.off_p90_s) == (30.0, 100.0)
    assert report.state == TargetState.MISSED and report.target == HONEST_TARGET == 0.8
    by_org = dict(report.by_organisation)
    assert [org for org, _ in report.by_organisation] == ["SVB", "UWV"]
    assert (by_org["UWV"].honest, by_org["UWV"].judged, by_org["UWV"].off_median_s, by_org["UWV"].off_p90_s) == (
        1, 3, 30.0, 100.0)
    assert (by_org["SVB"].calls, by_org["SVB"].announcements, by_org["SVB"].unknown, by_org["SVB"].judged) == (4, 5, 1, 2)
    assert by_org["SVB"].share_honest == 0.5 and (by_org["SVB"].off_median_s, by_org["SVB"].off_p90_s) == (10.0, 10.0)


def test_median_and_p90_are_nearest_rank() -> None:
    # Ten announcements 1..10 s too short: median rank 5 -> 5 s, p90 rank 9 -> 9 s.
    calls = [a_call("UWV", said(0, 60), events=(("answered", 60 + off),)) for off in range(10, 0, -1)]
    counted = figures(calls)
    assert (counted.too_short, counted.off_median_s, counted.off_p90_s) == (10, 5.0, 9.0)


@pytest.mark.parametrize("honest, too_short, state", [
    (4, 1, TargetState.MET),  # exactly 80 %: at least the target
    (3, 1, TargetState.MISSED),  # 75 %
    (0, 0, TargetState.NO_DATA),
])
def test_the_target_is_at_least_eighty_percent_honest(honest: int, too_short: int, state: TargetState) -> None:
    assert Figures(honest=honest, too_short=too_short).state() == state


def test_a_target_outside_zero_to_one_is_refused() -> None:
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="target"):
            honesty_report([], target=bad)
    assert honesty_report([]).total == Figures()


def test_every_definition_is_written_in_dutch_and_english() -> None:
    assert {"announcements", "unknown", "honest", "too_short", "judged", "not_judged", "share_honest",
            "off"} <= set(DEFINITIONS)
    for nl, en in DEFINITIONS.values():
        assert nl.strip() and en.strip() and nl != en
        assert "{" not in nl.format(target="80 %") + en.format(target="0.8")  # {target} is the only placeholder


def test_a_pickup_that_was_never_bridged_does_not_end_the_wait() -> None:
    from datetime import UTC, datetime, timedelta

    from callrouter.domain.wait_honesty import AnnouncedCall

    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    call = AnnouncedCall.from_events(organisation="UWV", announcements=(), events=[
        ("answered", start + timedelta(seconds=40)), ("not_bridged", start + timedelta(seconds=42)),
        ("answered", start + timedelta(seconds=90))])
    assert call.answered_at == start + timedelta(seconds=90)
