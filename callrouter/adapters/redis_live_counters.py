"""The wallboard's live counters in Redis: today's counts per dimension and the calls waiting now.

Each move of a call is one Lua script (adapters/lua/live_count.lua) on keys under the
organisation's hash tag: it counts each metric once per call and day (a set of counted
"sid|metric" guards the hash of counts) and adds to or removes from the waiting index. Liaison
presence is read from the router's own hash (redis_keys.liaisons), never copied.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from importlib import resources

import redis as redis_lib
from redis.commands.core import Script

from callrouter.adapters import redis_keys as keys
from callrouter.ports.calls import LiveDims, LiveOrgState, LiveWaiting

DAY_TTL_SECONDS = 2 * 24 * 3600 + 3600  # today's keys live through tomorrow (and a DST hour)
SEPARATOR = "|"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _field(dims: LiveDims) -> str:
    if any(SEPARATOR in part for part in dims):
        raise ValueError(f"a dimension holds {SEPARATOR!r}: {dims!r}")
    return SEPARATOR.join(dims)


def _entry(dims: LiveDims, since_ms: int) -> str:
    return json.dumps({"d": list(dims), "q": int(since_ms)}, separators=(",", ":"))


class RedisLiveCounters:
    def __init__(self, redis: redis_lib.Redis):
        self._redis = redis
        folder = resources.files("callrouter.adapters") / "lua"
        self._scripts: dict[str, Script] = {
            name: redis.register_script((folder / f"live_{name}.lua").read_text()) for name in ("count", "replace", "sync")
        }

    @staticmethod
    def _keys(org: str, day: date) -> list[str]:
        return [keys.live_counts(org, day.isoformat()), keys.live_counted(org, day.isoformat()), keys.live_waiting(org)]

    def count(self, *, call_sid: str, day: date, dims: LiveDims, metrics: Sequence[str],
              waiting_since_ms: int | None = None, left_queue: bool = False) -> int:
        """Count `metrics` for the call once each; add it to the waiting calls, or remove it. Returns how many counted now."""
        waiting = "" if waiting_since_ms is None else _entry(dims, waiting_since_ms)
        args = [call_sid, _field(dims), DAY_TTL_SECONDS, waiting, "1" if left_queue else "0", *metrics]
        return int(self._scripts["count"](keys=self._keys(dims[0], day), args=args))

    def read(self, *, organisations: Sequence[str], day: date) -> list[LiveOrgState]:
        """Every organisation's counts of the day, waiting calls and liaisons, in one round trip."""
        with self._redis.pipeline(transaction=False) as pipe:
            for org in organisations:
                pipe.hgetall(keys.live_counts(org, day.isoformat()))
                pipe.hgetall(keys.live_waiting(org))
                pipe.hgetall(keys.liaisons(org))
                pipe.hgetall(keys.live_on_hold(org))
            replies = pipe.execute()
        states = []
        for index, org in enumerate(organisations):
            counts_raw, waiting_raw, liaisons_raw, hold_raw = replies[4 * index: 4 * index + 4]
            states.append(LiveOrgState(org, _counts(counts_raw), _waiting(waiting_raw), _liaisons(liaisons_raw),
                                       _waiting(hold_raw)))
        return states

    def hold(self, *, call_sid: str, dims: LiveDims, since_ms: int | None) -> None:
        """The caller is on hold during a consult since `since_ms`, or (None) no longer: one command, repeatable."""
        key = keys.live_on_hold(dims[0])
        if since_ms is None:
            self._redis.hdel(key, call_sid)
        else:
            self._redis.hset(key, call_sid, _entry(dims, since_ms))

    def clear_on_hold(self, *, organisation: str) -> None:
        """Forget the organisation's callers on hold (a rebuild from SQL sets them again)."""
        self._redis.delete(keys.live_on_hold(organisation))

    def replace(self, *, organisation: str, day: date, counts: Mapping[LiveDims, Mapping[str, int]],
                waiting: Sequence[LiveWaiting]) -> None:
        """Set the organisation's counts of the day and its waiting calls to these (a rebuild from SQL)."""
        data = {"counts": {f"{_field(dims)}{SEPARATOR}{metric}": int(n) for dims, metrics in counts.items()
                           for metric, n in metrics.items() if n},
                "waiting": {sid: _entry(dims, since) for sid, dims, since in waiting}}
        self._scripts["replace"](keys=self._keys(organisation, day), args=[DAY_TTL_SECONDS, json.dumps(data)])

    def sync_waiting(self, *, organisation: str, waiting: Sequence[LiveWaiting], before_ms: int) -> tuple[int, int]:
        """Add the waiting calls the index lacks; drop entries queued before `before_ms` that no longer wait."""
        want = {sid: _entry(dims, since) for sid, dims, since in waiting}
        added, removed = self._scripts["sync"](keys=[keys.live_waiting(organisation)],
                                               args=[int(before_ms), json.dumps(want)])
        return int(added), int(removed)


def _counts(raw: Mapping[bytes | str, bytes | str]) -> dict[LiveDims, dict[str, int]]:
    counts: dict[LiveDims, dict[str, int]] = {}
    for name, value in raw.items():
        parts = _text(name).split(SEPARATOR)
        if len(parts) != 5:
            continue
        dims: LiveDims = (parts[0], parts[1], parts[2], parts[3])
        counts.setdefault(dims, {})[parts[4]] = int(value)
    return counts


def _waiting(raw: Mapping[bytes | str, bytes | str]) -> list[LiveWaiting]:
    found: list[LiveWaiting] = []
    for sid, value in raw.items():
        entry = json.loads(value)
        d = [str(part) for part in entry["d"]]
        found.append((_text(sid), (d[0], d[1], d[2], d[3]), int(entry["q"])))
    return sorted(found, key=lambda item: (item[2], item[0]))


def _liaisons(raw: Mapping[bytes | str, bytes | str]) -> list[tuple[int, str, tuple[str, ...]]]:
    found = []
    for liaison_id, value in raw.items():
        entry = json.loads(value)
        found.append((int(_text(liaison_id)), str(entry.get("s") or "offline"), tuple(entry.get("t") or ())))
    return sorted(found)
