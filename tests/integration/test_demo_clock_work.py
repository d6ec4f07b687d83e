"""The demo clock stands still while the service routes after a webhook's reply: a mark in Redis is open from
before the reply goes out until that routing is done (bootstrap.DemoWorkMarks), and the demo day's emulator
keeps its clock still while one is open (demo/day_run.SharedPauses.settled). Outside the demo nothing is marked."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import redis as redis_lib

from callrouter.bootstrap import DEMO_WORK_MARK_SECONDS, DemoWorkMarks
from callrouter.demo.day_run import SharedPauses
from tests.integration.conftest import App
from tests.integration.test_voice_webhooks import call_params, liaison, new_sid, twiml

START = datetime(2026, 11, 27, 8, 55, tzinfo=ZoneInfo("Europe/Amsterdam"))
SCALE = 360.0


def call_for_a_free_jan(app: App) -> None:
    """Jan (UWV) available, then a caller through the menus into UWV's line: routed after that reply."""
    jan = liaison(app, "uwv-jan")
    assert app.api("PUT", f"/api/liaisons/{jan}/presence", json={"status": "available"}).status_code == 200
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    twiml(app.post("/twilio/voice/menu?step=organisation", call_params(sid, Digits="1")))
    twiml(app.post("/twilio/voice/menu?step=topic", call_params(sid, Digits="1")))
    twiml(app.post("/twilio/voice/wait", call_params(sid, QueueTime="0")))


def test_a_mark_is_open_until_it_is_ended_and_a_lapsed_one_counts_no_more(redis: redis_lib.Redis,
                                                                            redis_url: str) -> None:
    moments = [time.time()]
    marks = DemoWorkMarks(redis, start=START, scale=SCALE, real_time=lambda: moments[0])
    shared = SharedPauses(redis_url, clock_start=START.isoformat(), scale=SCALE)
    try:
        first = marks.begin()
        second = marks.begin()
        assert shared.open_marks() == 2
        marks.end(first)
        assert shared.open_marks() == 1
        marks.end(second)
        assert shared.open_marks() == 0
        # A process that died before it ended its mark: it lapses, and the next begin clears it away.
        moments[0] = time.time() - DEMO_WORK_MARK_SECONDS - 1
        marks.begin()
        assert shared.open_marks() == 0
        moments[0] = time.time()
        kept = marks.begin()
        assert redis.zrange(shared.work, 0, -1) == [kept.encode()]
    finally:
        shared.close()


def test_the_routing_after_a_reply_runs_under_an_open_mark_and_ends_it(app_factory, redis: redis_lib.Redis,  # noqa: ANN001
                                                                       redis_url: str) -> None:
    app: App = app_factory(demo_clock_start=START, demo_time_scale=SCALE, bridge="conference")
    shared = SharedPauses(redis_url, clock_start=START.isoformat(), scale=SCALE)
    open_when_routed: list[int] = []
    create = app.telephony.create_call

    def counting_create(**kwargs: object) -> str:
        open_when_routed.append(shared.open_marks())
        return create(**kwargs)  # type: ignore[arg-type]

    app.telephony.create_call = counting_create  # type: ignore[method-assign]
    try:
        call_for_a_free_jan(app)
        assert open_when_routed == [1]  # Jan's leg was placed while the reply's mark was open
        assert shared.open_marks() == 0  # and the mark ended with the routing
    finally:
        shared.close()


def test_outside_the_demo_nothing_is_marked(app_factory, redis: redis_lib.Redis) -> None:  # noqa: ANN001
    app: App = app_factory(bridge="conference")
    call_for_a_free_jan(app)
    assert len(app.telephony.created) == 1
    assert not [key for key in redis.scan_iter("*demo-clock-work*")]
