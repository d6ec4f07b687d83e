"""Replays of signed webhooks: one signed request has one effect, however it is re-sent.

The replay guard keys on what Twilio signs (URL and parameters, canonical), never on the unsigned
I-Twilio-Idempotency-Token header or the raw body bytes; a late replay of an older step is stale.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import quote, urlencode

import pytest

from callrouter.adapters import redis_keys
from callrouter.adapters.redis_replay import ReplayGuard
from callrouter.domain.calls import CallState, EventKind
from callrouter.web.twilio_webhook import canonical_request
from tests.integration.conftest import PUBLIC_URL, App
from tests.integration.test_voice_webhooks import call_params, liaison, new_sid, said, twiml, verbs

UNREGISTERED = "+31698765400"
KEES = "100486420531"  # code 1004 (Kees Bakker, AMS) and his PIN, from the demo directory


def pin_turn(app: App, sid: str) -> str:
    """The URL (with its turn) the service handed out for the caller's code and PIN."""
    twiml(app.post("/twilio/voice/incoming", call_params(sid, from_=UNREGISTERED)))
    return app.handed_out[(sid, "/twilio/voice/pin")]


def send_raw(app: App, path: str, body: str, params: dict[str, str], headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """POST `body` as it is, signed as Twilio signs `params` for `path`."""
    signature = app.validator.compute_signature(PUBLIC_URL + path, params)
    return app.client.post(path, content=body.encode(), headers={
        "X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})


def tries(app: App, sid: str) -> int:
    record = app.container.voice.calls.get(sid)
    assert record is not None
    return record.pin_tries


def forget_replays(app: App) -> None:
    """As if the replay window had passed (or Redis lost its keys)."""
    for key in app.container.redis.scan_iter(redis_keys.webhook_replay("*")):
        app.container.redis.delete(key)


def variants(params: dict[str, str]) -> dict[str, tuple[str, dict[str, str]]]:
    """The same signed parameters written in other ways: body, extra headers."""
    plain = urlencode(params)
    return {
        "no idempotency header": (plain, {}),
        "another idempotency token": (plain, {"I-Twilio-Idempotency-Token": "forged-token"}),
        "fields reordered": (urlencode(sorted(params.items(), reverse=True)), {}),
        "lower-case %2b for +": (plain.replace("%2B", "%2b"), {}),
        "every character percent-encoded": ("&".join(f"{quote(k, safe='')}={''.join(f'%{b:02x}' for b in v.encode())}"
                                                      for k, v in params.items()), {}),
        "a field repeated": (plain + "&Digits=" + params["Digits"], {}),
        "a trailing &": (plain + "&", {}),
        "empty pieces": ("&&" + plain.replace("&", "&&"), {}),
    }


@pytest.mark.parametrize("variant", list(variants(call_params("CA" + "0" * 32, Digits="1"))))
def test_a_pin_try_sent_again_in_another_form_counts_once(app: App, variant: str) -> None:
    sid = new_sid()
    path = pin_turn(app, sid)
    params = call_params(sid, from_=UNREGISTERED, Digits="00000000")
    first = app.post(path, params, idempotency="tok-1")
    assert "Gather" in verbs(twiml(first)) and tries(app, sid) == 1
    body, headers = variants(params)[variant]
    again = send_raw(app, path, body, params, headers)
    assert again.status_code == 200 and again.text == first.text  # the first answer, no second effect
    assert tries(app, sid) == 1
    events = [e.kind for e in app.container.voice.calls.events(sid)]
    assert events.count(EventKind.PIN_FAILED) == 1


def test_a_second_try_with_the_same_keys_is_its_own_request(app: App) -> None:
    """Two identical key presses are two requests: each goes to the URL of its own turn."""
    sid = new_sid()
    first_url = pin_turn(app, sid)
    params = call_params(sid, from_=UNREGISTERED, Digits="00000000")
    twiml(app.post(first_url, params))
    second_url = app.handed_out[(sid, "/twilio/voice/pin")]
    assert second_url != first_url and second_url.endswith("/twilio/voice/pin")
    twiml(app.post(second_url, params))
    assert tries(app, sid) == 2
    root = twiml(app.post(first_url, params))  # the first try once more: its first answer
    assert tries(app, sid) == 2 and "Gather" in verbs(root)


def test_a_pin_try_replayed_after_the_caller_got_in_is_stale(app: App) -> None:
    sid = new_sid()
    path = pin_turn(app, sid)
    wrong = call_params(sid, from_=UNREGISTERED, Digits="00000000")
    twiml(app.post(path, wrong))
    menu = twiml(app.post("/twilio/voice/pin", call_params(sid, from_=UNREGISTERED, Digits=KEES)))
    assert "Gather" in verbs(menu)
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.state == CallState.MENU and record.pin_tries == 1
    forget_replays(app)  # a late replay: the replay window has passed
    root = twiml(app.post(path, wrong, idempotency="late"))
    assert verbs(root) == ["Gather"]  # the call resumes where it is: the organisation menu
    assert said(root) and "code" not in said(root).lower()
    after = app.container.voice.calls.get(sid)
    assert after is not None and after.state == CallState.MENU and after.pin_tries == 1


def test_a_menu_choice_replayed_after_the_call_was_queued_is_stale(app: App) -> None:
    app.api("PUT", f"/api/liaisons/{liaison(app, 'uwv-jan')}/presence", json={"status": "away"})  # on duty, busy
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    org_url = app.handed_out[(sid, "/twilio/voice/menu?step=organisation")]
    twiml(app.post(org_url, call_params(sid, Digits="1")))
    queued = twiml(app.post("/twilio/voice/menu?step=topic", call_params(sid, Digits="1")))
    assert "Enqueue" in verbs(queued)
    before = app.container.voice.calls.get(sid)
    assert before is not None and before.state == CallState.QUEUED
    events = len(app.container.voice.calls.events(sid))
    forget_replays(app)
    root = twiml(app.post(org_url, call_params(sid, Digits="2"), idempotency="late"))  # another key, same turn
    assert verbs(root) == ["Enqueue"]  # no organisation menu: the call resumes on hold, where it is
    forget_replays(app)
    root = twiml(app.post(org_url, call_params(sid, Digits="1"), idempotency="late-2"))
    assert verbs(root) == ["Enqueue"]
    after = app.container.voice.calls.get(sid)
    assert after is not None and after.state == CallState.QUEUED
    assert (after.organisation, after.topic) == (before.organisation, before.topic)
    assert len(app.container.voice.calls.events(sid)) == events


def test_a_retry_of_a_status_callback_counts_once(app: App) -> None:
    sid = new_sid()
    twiml(app.post("/twilio/voice/incoming", call_params(sid)))
    params = call_params(sid, CallStatus="completed", SequenceNumber="0", CallDuration="12")
    first = app.post("/twilio/voice/status", params)
    assert first.status_code == 200
    events = app.container.voice.calls.events(sid)
    again = send_raw(app, "/twilio/voice/status", urlencode(sorted(params.items())) + "&", params)
    assert again.status_code == 200 and again.text == first.text
    assert app.container.voice.calls.events(sid) == events


# -- a claim's holder dies or is slow (issue 12's fault suite: HAProxy retries on the other host) ----------

def request_digest(path: str, params: dict[str, str]) -> str:
    return ReplayGuard.digest(canonical_request(PUBLIC_URL + path, params))


def test_a_retry_takes_over_the_claim_of_a_holder_that_died(app: App) -> None:
    """A web process killed while handling a request leaves its claim; the retry (on the other host) must not
    wait 10 s for it (Twilio gives up at 15 s), but take over within the claim's life, and handle it once."""
    sid = new_sid()
    params = call_params(sid)
    dead = ReplayGuard(app.container.redis, window_seconds=3600, claim_seconds=2)
    held = dead.claim(request_digest("/twilio/voice/incoming", params))
    assert held is not None
    dead.stop_renewing()  # the process is gone: nobody renews its claim
    started = time.monotonic()
    first = app.post("/twilio/voice/incoming", params, idempotency="retried")
    took = time.monotonic() - started
    assert "Gather" in verbs(twiml(first))  # handled: the caller hears the menu, not an error
    assert took < 3.5, f"the retry waited {took:.1f} s on a dead holder's claim"
    events = app.container.voice.calls.events(sid)
    assert events  # the call is on record, once
    again = app.post("/twilio/voice/incoming", params, idempotency="retried")
    assert again.text == first.text and app.container.voice.calls.events(sid) == events


def test_a_slow_holder_keeps_its_claim_and_the_retry_gets_its_answer(app: App) -> None:
    """A living holder renews its claim however long it works: a retry waits for its answer, no second effect."""
    sid = new_sid()
    params = call_params(sid)
    slow = ReplayGuard(app.container.redis, window_seconds=3600, claim_seconds=1)
    held = slow.claim(request_digest("/twilio/voice/incoming", params))
    assert held is not None
    answer = b'<?xml version="1.0" encoding="UTF-8"?><Response><Say>first</Say></Response>'
    finisher = threading.Timer(2.5, slow.store, args=(held, answer))  # longer than two lives of the claim
    finisher.start()
    try:
        retry = app.post("/twilio/voice/incoming", params, idempotency="slow")
    finally:
        finisher.join()
        slow.stop_renewing()
    assert retry.content == answer  # the first delivery's answer
    assert app.container.voice.calls.get(sid) is None  # and the retry did nothing of its own
