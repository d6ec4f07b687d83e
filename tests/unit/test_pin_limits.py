"""The arithmetic of docs/security.md, on the default settings, and the PIN checks behind it."""

from __future__ import annotations

import time

from argon2 import PasswordHasher

from callrouter.adapters.directory_yaml import PIN_MIN_DIGITS
from callrouter.adapters.flow_files import parse_flow
from callrouter.adapters.pins import Argon2Pins
from callrouter.bootstrap import pin_limits
from callrouter.config import Settings
from callrouter.domain.pin_limits import MONTH_SECONDS, Backoff, PinLimits

DIRECTORY = 2600


def test_the_defaults_keep_impersonation_in_30_days_below_1_percent() -> None:
    limits = pin_limits(Settings())
    assert limits == PinLimits()
    assert limits.code.most_tries(MONTH_SECONDS) == 2885 and limits.own.most_tries(MONTH_SECONDS) == 41
    assert limits.month_budget(caseworkers=DIRECTORY) == 600 * 720 + DIRECTORY * 41 == 538_600
    assert limits.impersonation_chance(caseworkers=DIRECTORY, pin_digits=PIN_MIN_DIGITS) < 0.01
    # ... which is why a PIN has at least 8 digits: 7 would not do, nor would the old limits with 4.
    assert limits.impersonation_chance(caseworkers=DIRECTORY, pin_digits=PIN_MIN_DIGITS - 1) > 0.01
    old = PinLimits(number=Backoff(free=10**9), code=Backoff(free=10, base_seconds=900, cap_seconds=900),
                    own=Backoff(free=10, base_seconds=900, cap_seconds=900), global_per_hour=10**9)
    assert old.impersonation_chance(caseworkers=DIRECTORY, pin_digits=4) == 1.0


def test_backoff_doubles_from_the_free_th_wrong_pin_up_to_its_cap() -> None:
    code = PinLimits().code
    assert [code.wait_after(n) for n in range(1, 9)] == [0, 0, 60, 120, 240, 480, 900, 900]
    assert code.wait_after(10**6) == 900
    assert Backoff(free=3, base_seconds=60, cap_seconds=86400).most_tries(3600) == 8  # tries at 0, 0, 0, 60, 180, 420, 900, 1860 s; the next at 3780


def test_the_dummy_check_takes_as_long_as_a_real_one() -> None:
    pins = Argon2Pins(PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1))
    real = pins.hash("86420531")
    pins.verify_nothing("0")  # the dummy hash is made on first use

    def fastest(check) -> float:  # noqa: ANN001
        times = []
        for _ in range(5):
            start = time.perf_counter()
            check()
            times.append(time.perf_counter() - start)
        return min(times)

    known = fastest(lambda: pins.verify(real, "00000000"))
    unknown = fastest(lambda: pins.verify_nothing("00000000"))
    assert not pins.verify_nothing("86420531")
    assert 0.5 < unknown / known < 2, (known, unknown)


def test_a_flow_may_ask_registered_numbers_for_the_pin() -> None:
    text = open("ivr_flows/professional.yaml", encoding="utf-8").read()
    default, problems = parse_flow(text, "professional.yaml")
    assert default is not None and not problems and default.pin_for_registered_numbers is False
    on, _ = parse_flow(text.replace("pin_for_registered_numbers: false", "pin_for_registered_numbers: true"), "p.yaml")
    assert on is not None and on.pin_for_registered_numbers is True
    _, problems = parse_flow(text.replace("pin_for_registered_numbers: false", "pin_for_registered_numbers: ja"), "p.yaml")
    assert any("pin_for_registered_numbers must be true or false" in p for p in problems)
