"""Limits on PIN guessing (docs/security.md), driven through the voice webhooks with a fixed clock.

Counted per wrong PIN (not per refused call), per number, per code (the code's own registered numbers
apart), across all codes per hour; exponential backoff that a guess during a wait neither counts toward
nor renews; unknown codes treated exactly like known ones; an administrator's unlock; the gauges.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from datetime import timedelta
from itertools import count

import pytest
from typer.testing import CliRunner

from callrouter.cli.security import app as security_cli
from callrouter.web.metrics import LiveCollector
from tests.integration.conftest import App
from tests.integration.test_voice_webhooks import call_params, new_sid, said, twiml

KEES = "1004"  # Kees Bakker: no registered phone, PIN 86420531
KEES_PIN = "86420531"
SANNE = "1001"  # Sanne de Vries: registered phone +31612345601, PIN 13572468
SANNE_PHONE = "+31612345601"
SANNE_PIN = "13572468"
UNKNOWN = "9999"  # no caseworker has this code
_numbers = count(1)


def fresh_number() -> str:
    """An attacker has as many caller numbers as they like: every try from a new one."""
    return f"+3169{next(_numbers):07d}"


def call(app: App, *, from_: str | None = None) -> tuple[str, ET.Element]:
    sid, number = new_sid(), from_ or fresh_number()
    return sid, twiml(app.post("/twilio/voice/incoming", call_params(sid, from_=number)))


def type_pin(app: App, sid: str, digits: str, *, from_: str) -> ET.Element:
    return twiml(app.post("/twilio/voice/pin", call_params(sid, from_=from_, Digits=digits)))


def attempt(app: App, code: str, pin: str, *, from_: str | None = None) -> bool:
    """One call, one PIN: True when it identified the caller."""
    number = from_ or fresh_number()
    sid, _ = call(app, from_=number)
    type_pin(app, sid, code + pin, from_=number)
    record = app.container.voice.calls.get(sid)
    assert record is not None
    return record.caseworker_id is not None


def closed_for(app: App, kind: str, name: str) -> float:
    now = app.clock.now().timestamp()
    found = [lock for lock in app.container.guard.locks() if (lock.kind, lock.name) == (kind, name)]
    return max(0.0, found[0].until - now) if found else 0.0


def wrong(pin: str) -> str:
    return pin[::-1]


def test_a_number_is_counted_per_wrong_pin_even_when_it_hangs_up_after_two(app: App) -> None:
    number = fresh_number()
    sid, _ = call(app, from_=number)
    type_pin(app, sid, KEES + "00000000", from_=number)
    type_pin(app, sid, KEES + "00000001", from_=number)  # and hangs up: never a refused call
    sid, root = call(app, from_=number)
    assert "Toets uw medewerkerscode" in said(root)
    type_pin(app, sid, UNKNOWN + "00000002", from_=number)  # the third wrong PIN: the number waits 60 s
    _, root = call(app, from_=number)
    assert "geblokkeerd" in said(root)
    app.clock.moment += timedelta(seconds=61)
    _, root = call(app, from_=number)
    assert "Toets uw medewerkerscode" in said(root)


def test_a_code_backs_off_exponentially_and_guessing_during_a_wait_neither_counts_nor_renews(app: App) -> None:
    for n in range(3):
        assert not attempt(app, KEES, f"0000000{n}")
    assert closed_for(app, "code", KEES) == 60  # the third wrong PIN from anywhere closes the code for 60 s
    app.clock.moment += timedelta(seconds=30)
    for n in range(20):  # a guesser keeps trying during the wait, from new numbers
        assert not attempt(app, KEES, f"1111111{n % 10}")
    assert not attempt(app, KEES, KEES_PIN)  # the right PIN is not checked during the wait either
    assert closed_for(app, "code", KEES) == 30  # not renewed, not lengthened
    lock = next(lock for lock in app.container.guard.locks() if lock.kind == "code")
    assert lock.wrong == 3  # the refused guesses were not counted
    app.clock.moment += timedelta(seconds=31)
    assert not attempt(app, KEES, "22222222")
    assert closed_for(app, "code", KEES) == 120  # doubled
    app.clock.moment += timedelta(seconds=121)
    assert attempt(app, KEES, KEES_PIN)


def test_someone_elses_guessing_holds_the_owner_off_at_most_900_s_at_a_time(app: App) -> None:
    for n in range(12):  # a guesser who tries the moment each wait ends
        assert not attempt(app, KEES, f"3333333{n % 10}")
        app.clock.moment += timedelta(seconds=closed_for(app, "code", KEES))
    assert not attempt(app, KEES, "44444444")
    assert closed_for(app, "code", KEES) == 900  # capped: CALLROUTER_PIN_CODE_BACKOFF_MAX_SECONDS
    app.clock.moment += timedelta(seconds=900)
    assert attempt(app, KEES, KEES_PIN)


def test_across_all_codes_at_most_the_hourly_limit_of_wrong_pins_is_checked(app_factory) -> None:  # noqa: ANN001
    app = app_factory(pin_global_max_per_hour=5)
    app.clock.moment = app.clock.moment.replace(minute=0, second=0)
    for n in range(5):  # five codes, one try each: no code and no number reaches its own limit
        assert not attempt(app, f"{5000 + n}", "00000000")
    assert app.container.guard.wrong_this_hour(app.clock.now()) == 5
    assert not attempt(app, KEES, KEES_PIN)  # refused unchecked while the limit is reached
    assert app.container.guard.wrong_this_hour(app.clock.now()) == 5  # and not counted
    app.clock.moment += timedelta(hours=1)
    assert attempt(app, KEES, KEES_PIN)


def test_the_owner_on_a_registered_number_is_never_blocked_by_others(app_factory) -> None:  # noqa: ANN001
    app = app_factory(pin_global_max_per_hour=5)
    flows = app.container.voice.flows  # the running app holds this dict: switch the setting on in place
    flows["professional"] = dataclasses.replace(flows["professional"], pin_for_registered_numbers=True)
    for n in range(3):  # others lock the code ...
        attempt(app, SANNE, f"5555555{n}")
    for code in ("5000", "5001"):  # ... and use up the global limit
        attempt(app, code, "55555555")
    assert closed_for(app, "code", SANNE) > 0 and app.container.guard.wrong_this_hour(app.clock.now()) >= 5
    assert not attempt(app, SANNE, SANNE_PIN)  # from any other number: held off
    assert attempt(app, SANNE, SANNE_PIN, from_=SANNE_PHONE)  # from her own phone: in at once


def test_registered_numbers_get_in_on_the_number_unless_the_line_asks_them_for_the_pin(app: App) -> None:
    sid, root = call(app, from_=SANNE_PHONE)
    assert "loket Amsterdam" in said(root)  # the default, as before: the number alone
    flows = app.container.voice.flows
    flows["professional"] = dataclasses.replace(flows["professional"], pin_for_registered_numbers=True)
    sid, root = call(app, from_=SANNE_PHONE)
    assert "Toets uw medewerkerscode" in said(root) and "loket Amsterdam" not in said(root)
    record = app.container.voice.calls.get(sid)
    assert record is not None and record.caseworker_id is None
    assert "loket Amsterdam" in said(type_pin(app, sid, SANNE + SANNE_PIN, from_=SANNE_PHONE))


class CountingPins:
    """Wraps the real verifier: how many argon2 checks each PIN try costs."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self.inner, self.checks = inner, 0

    def verify(self, pin_hash: str, pin: str) -> bool:
        self.checks += 1
        return bool(self.inner.verify(pin_hash, pin))

    def verify_nothing(self, pin: str) -> bool:
        self.checks += 1
        return bool(self.inner.verify_nothing(pin))


def test_an_unknown_code_costs_one_argon2_check_and_answers_and_locks_like_a_known_one(app_factory) -> None:  # noqa: ANN001
    from tests.e2e.stack import FAST_PINS

    app = app_factory()
    pins = CountingPins(FAST_PINS)
    object.__setattr__(app.container.voice, "pins", pins)  # the running app holds this CallDeps
    answers = {}
    for code in (KEES, UNKNOWN):
        number = fresh_number()
        sid, _ = call(app, from_=number)
        before = pins.checks
        answers[code] = said(type_pin(app, sid, code + "00000000", from_=number))
        assert pins.checks == before + 1
        for n in range(2):
            attempt(app, code, f"0000000{n + 1}")
    assert answers[KEES] == answers[UNKNOWN]
    assert closed_for(app, "code", KEES) == closed_for(app, "code", UNKNOWN) == 60


def test_an_administrator_sees_and_lifts_a_lock(app: App, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        attempt(app, KEES, f"6666666{n}")
    gauges = {(metric.name, sample.labels.get("kind")): sample.value
              for metric in LiveCollector(app.container).collect() for sample in metric.samples}
    assert gauges[("callrouter_pin_locks", "code")] == 1 and gauges[("callrouter_pin_wrong_this_hour", None)] == 3
    assert not attempt(app, KEES, KEES_PIN)
    monkeypatch.setenv("CALLROUTER_REDIS_URL", redis_url)
    runner = CliRunner()
    shown = runner.invoke(security_cli, ["status"])
    assert shown.exit_code == 0, shown.output
    assert f"code\t{KEES}\t3 wrong in a row" in shown.output
    unlocked = runner.invoke(security_cli, ["unlock", "--code", KEES])
    assert unlocked.exit_code == 0 and "unlocked code 1004" in unlocked.output, unlocked.output
    assert attempt(app, KEES, KEES_PIN)
    assert runner.invoke(security_cli, ["unlock"]).exit_code != 0
