"""Pacing of outbound calls: Twilio places at most N calls per second per account (1 by default, more with a
raised limit; beyond it creates are queued or refused). Every process takes its turn from one Redis slot,
so the pace holds across web processes, workers and hosts; the slot is Redis's own clock, not the host's.

At a peak each create waits for the one before it: 10 liaisons freed at once at 1 call per second ring
0, 1, ..., 9 s later (docs/transfer.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from importlib import resources

import redis as redis_lib

from callrouter.adapters import redis_keys as keys
from callrouter.domain.call_flow import Goto
from callrouter.ports.calls import NetworkLeg, Telephony

log = logging.getLogger("callrouter.twilio")


class RedisPacer:
    """`wait_turn()` blocks until this process may place the next call (one per 1/calls_per_second s)."""

    def __init__(self, redis: redis_lib.Redis, *, calls_per_second: float, time_scale: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if calls_per_second <= 0:
            raise ValueError("calls_per_second must be above 0")
        # A demo clock that runs `time_scale` times as fast (and its emulator with it) paces in its own seconds.
        self.gap_us = max(1, round(1_000_000 / calls_per_second / max(time_scale, 1.0)))
        self._sleep = sleep
        script = (resources.files("callrouter.adapters") / "lua" / "outbound_pace.lua").read_text()
        self._reserve = redis.register_script(script)

    def reserve(self) -> float:
        """Take the next slot; the seconds to wait for it (0.0: at once)."""
        waited_us = int(self._reserve(keys=[keys.outbound_pace()], args=[self.gap_us]))
        return waited_us / 1_000_000

    def wait_turn(self) -> float:
        delay = self.reserve()
        if delay > 0:
            log.info("twilio.create_paced wait_s=%.3f", delay)
            self._sleep(delay)
        return delay


class PacedTelephony:
    """The Telephony port with every call creation paced; redirects and hang-ups are not (not limited)."""

    def __init__(self, inner: Telephony, pacer: RedisPacer) -> None:
        self._inner = inner
        self._pacer = pacer

    def redirect(self, *, call_sid: str, to: Goto) -> None:
        self._inner.redirect(call_sid=call_sid, to=to)

    def create_call(self, *, to: str, from_: str, answer: Goto, status: Goto, timeout: int) -> str:
        self._pacer.wait_turn()
        return self._inner.create_call(to=to, from_=from_, answer=answer, status=status, timeout=timeout)

    def hold_member(self, *, room_sid: str, member: str, hold: bool, music: Goto | None = None) -> None:
        self._inner.hold_member(room_sid=room_sid, member=member, hold=hold, music=music)

    def set_member_ends_room(self, *, room_sid: str, member: str, ends: bool) -> None:
        self._inner.set_member_ends_room(room_sid=room_sid, member=member, ends=ends)

    def hang_up(self, *, call_sid: str) -> None:
        self._inner.hang_up(call_sid=call_sid)

    def leg_status(self, *, call_sid: str) -> NetworkLeg | None:
        return self._inner.leg_status(call_sid=call_sid)
