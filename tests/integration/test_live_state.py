"""Redis holds nothing SQL cannot rebuild: queues and presence come back after a flush."""

from __future__ import annotations

from datetime import timedelta

from callrouter.domain.calls import CallState
from callrouter.domain.queueing import Presence
from callrouter.services.calls.reconcile import reconcile
from tests.integration.conftest import App
from tests.integration.test_voice_webhooks import call_params, new_sid, twiml


def lid(app: App, code: str) -> int:
    found = app.container.directory.liaison_by_code(code)
    assert found is not None
    return found.id


def queue_call(app: App, *, from_: str, to: str = "+31850001000", digits: list[str]) -> str:
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid, from_=from_, to=to)))
    step = "organisation" if to == "+31850001000" else "topic"
    for key in digits:
        twiml(app.post(f"/twilio/voice/menu?step={step}", call_params(sid, from_=from_, to=to, Digits=key)))
        step = "topic"
    twiml(app.post("/twilio/voice/wait", call_params(sid, from_=from_, to=to, QueueTime="0")))
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.state in (CallState.QUEUED, CallState.OFFERED)
    return sid


def snapshot(app: App, sids: list[str]) -> tuple:
    router = app.container.router
    return (router.waiting_count(org="UWV"), dict(router.presence_counts(org="UWV")),
            [router.position(call_sid=s, org="UWV") for s in sids])


def test_queues_and_presence_are_rebuilt_from_sql_after_redis_loses_them(app: App, redis) -> None:  # noqa: ANN001
    app.api("PUT", f"/api/liaisons/{lid(app, 'uwv-jan')}/presence", json={"status": "away"})
    app.api("PUT", f"/api/liaisons/{lid(app, 'uwv-ingrid')}/presence", json={"status": "available"})
    citizen = queue_call(app, from_="+31611110000", to="+31850001101", digits=["1"])
    app.clock.moment += timedelta(seconds=5)
    professional = queue_call(app, from_="+31612345601", digits=["1", "1"])
    app.clock.moment += timedelta(seconds=5)
    second = queue_call(app, from_="+31612345602", digits=["1", "1"])
    sids = [citizen, professional, second]
    before = snapshot(app, sids)
    assert before[0] == 3 and before[2][1].position == 1  # the professional is first in line

    redis.flushdb()
    assert app.container.router.waiting_count(org="UWV") == 0
    report = reconcile(app.container.voice, live_state_present=False)
    assert report.rebuilt
    assert snapshot(app, sids) == before

    # And routing continues as if nothing happened: the professional call goes first.
    app.api("PUT", f"/api/liaisons/{lid(app, 'uwv-jan')}/presence", json={"status": "available"})
    assert app.telephony.redirects[0][0] == professional
    assert app.container.voice.calls.get(professional).state == CallState.OFFERED  # type: ignore[union-attr]


def test_an_offer_whose_redirect_was_lost_goes_back_in_line(app: App) -> None:
    app.api("PUT", f"/api/liaisons/{lid(app, 'uwv-jan')}/presence", json={"status": "available"})
    sid = queue_call(app, from_="+31612345601", digits=["1", "1"])
    # The claim happened (redirect recorded) but Twilio never fetched /connect: the web process died.
    assert [s for s, _ in app.telephony.redirects] == [sid]
    assert app.container.voice.calls.get(sid).state == CallState.OFFERED  # type: ignore[union-attr]
    app.api("PUT", f"/api/liaisons/{lid(app, 'uwv-jan')}/presence", json={"status": "away"})  # refused: busy
    app.clock.moment += timedelta(minutes=5)
    report = reconcile(app.container.voice, live_state_present=True)
    assert report.returned_offers == 1
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.state in (CallState.QUEUED, CallState.OFFERED)
    # The caller waits in the call's room (the conference bridge): the reconciler redirects them out of it,
    # back in line; jan was freed and, still available, is offered the call again.
    connect = f"/twilio/voice/connect?liaison={lid(app, 'uwv-jan')}"
    assert app.telephony.redirects == [(sid, connect), (sid, "/twilio/voice/back-in-line"), (sid, connect)]


def test_a_presence_change_made_while_the_live_state_is_rebuilt_is_not_undone(app: App, redis, monkeypatch) -> None:  # noqa: ANN001
    """The liaison clicks "available" after the rebuild read presence from SQL and before it replaced Redis's
    state: the rebuild must not put back the status it read (away), or nobody is routed to a liaison whose
    console says available."""
    jan = lid(app, "uwv-jan")
    app.api("PUT", f"/api/liaisons/{jan}/presence", json={"status": "away"})
    sid = queue_call(app, from_="+31612345601", digits=["1", "1"])
    redis.flushdb()
    router = app.container.voice.router
    real_rebuild = router.rebuild

    def rebuild_after_a_click(*, snapshots):  # type: ignore[no-untyped-def]
        snapshots = list(snapshots)  # read from SQL before the click
        assert app.api("PUT", f"/api/liaisons/{jan}/presence", json={"status": "available"}).status_code == 200
        real_rebuild(snapshots=snapshots)

    monkeypatch.setattr(router, "rebuild", rebuild_after_a_click)
    reconcile(app.container.voice, live_state_present=False)
    assert app.container.router.liaison_status(liaison_id=jan, org="UWV") is not Presence.AWAY
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.state == CallState.OFFERED and record.liaison_id == jan
