"""Limits on PIN guessing (docs/security.md): exponential backoff counted per wrong PIN, and its arithmetic.

Three buckets count wrong PINs, each with the same rule: the first `free - 1` wrong PINs cost nothing,
the n-th (n >= free) closes the bucket for min(base * 2**(n - free), cap) seconds from that moment. While
a bucket is closed, a PIN is refused without being checked and without being counted, so guessing
during a wait neither learns anything nor makes the wait longer (no renewing lock). A bucket is
forgotten `memory` seconds after its last wait ends; a right PIN empties the caller's own buckets.

- per caller number: every failed try from that number;
- per caseworker code, typed from a number that is not one of that caseworker's registered numbers
  ("others"): capped at `code_cap`, the stated longest wait the owner can be given by someone else's
  guessing at a time; unknown codes are counted exactly like existing ones;
- per caseworker code, typed from one of its own registered numbers ("own"): kept apart, so other
  people's guessing never blocks the owner on their own phone;
- across all codes: at most `global_per_hour` wrong PINs per clock hour; when reached, PINs from
  numbers that are not the typed code's own are refused until the hour ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MONTH_SECONDS = 30 * 86400


@dataclass(frozen=True)
class Backoff:
    free: int = 3  # the free-th wrong PIN is the first that costs a wait
    base_seconds: float = 60.0
    cap_seconds: float = 86400.0
    memory_seconds: float = 86400.0  # forgotten this long after the last wait ends

    def wait_after(self, wrong: int) -> float:
        """The wait that the `wrong`-th wrong PIN in a row starts."""
        if wrong < self.free:
            return 0.0
        exponent = wrong - self.free
        if exponent > 64:
            return self.cap_seconds
        return float(min(self.base_seconds * 2 ** exponent, self.cap_seconds))

    def most_tries(self, seconds: float) -> int:
        """The most wrong PINs one bucket lets through in `seconds`, for a guesser who tries the moment
        each wait ends (and never lets the bucket be forgotten)."""
        tries, elapsed = 0, 0.0
        while True:
            tries += 1
            elapsed += self.wait_after(tries)
            if elapsed > seconds:
                return tries
            if self.wait_after(tries) >= self.cap_seconds:  # steady state from here: one try per cap
                return tries + math.floor((seconds - elapsed) / self.cap_seconds)


@dataclass(frozen=True)
class PinLimits:
    number: Backoff = Backoff(free=3, base_seconds=60, cap_seconds=86400)
    code: Backoff = Backoff(free=3, base_seconds=60, cap_seconds=900)  # others' guessing on one code
    own: Backoff = Backoff(free=3, base_seconds=60, cap_seconds=86400)  # from the code's own numbers
    global_per_hour: int = 600

    def month_budget(self, *, caseworkers: int, seconds: float = MONTH_SECONDS) -> int:
        """The most wrong PINs an attacker with any number of caller numbers (caller ID forged at will,
        registered numbers included) gets checked in `seconds` against a directory of `caseworkers`."""
        others = min(caseworkers * self.code.most_tries(seconds), self.global_per_hour * math.ceil(seconds / 3600))
        # Forging a caseworker's registered number reaches the code's own bucket, which the global limit
        # does not close (it is the owner's way in): counted in full.
        own = caseworkers * self.own.most_tries(seconds)
        return others + own

    def impersonation_chance(self, *, caseworkers: int, pin_digits: int, seconds: float = MONTH_SECONDS) -> float:
        """Upper bound (union bound) on the chance that at least one caseworker is impersonated by guessing,
        for PINs drawn uniformly at random with `pin_digits` digits."""
        budget = self.month_budget(caseworkers=caseworkers, seconds=seconds)
        return min(1.0, budget / float(10 ** pin_digits))
