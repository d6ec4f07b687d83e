"""Every Redis key of the router, in one place.

All keys of one organisation share the hash tag `{ORG}`, so one Lua script may touch them all
on a Redis Cluster too. `org_layout` is the KEYS list every router script receives; the order
is mirrored by adapters/lua/prelude.lua.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PREFIX = "callrouter"
_ORG = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_TOPIC = re.compile(r"^(\*|[A-Za-z0-9_-]{1,32})$")
FIXED_KEYS = 7  # the layout's keys before the per-topic ones
PER_TOPIC = 4


def check_org(org: str) -> str:
    if not _ORG.match(org):
        raise ValueError(f"not an organisation code: {org!r}")
    return org


def check_topic(topic: str) -> str:
    if not _TOPIC.match(topic):
        raise ValueError(f"not a topic code: {topic!r}")
    return topic


def _org(org: str) -> str:
    return f"{PREFIX}:{{{check_org(org)}}}"


def topic_index(org: str) -> str:
    """Set of the organisation's topics (queues and liaison skills), so scripts know every zset."""
    return f"{_org(org)}:topics"


def topic_index_version(org: str) -> str:
    """Counter bumped whenever the topic index changes; callers cache the index against it."""
    return f"{_org(org)}:topics:v"


def calls(org: str) -> str:
    """Hash call_sid -> JSON {t: topic, k: class, e: enqueued_at_ms, l: liaison id if offered}."""
    return f"{_org(org)}:calls"


def liaisons(org: str) -> str:
    """Hash liaison id -> JSON {s: status, since: ms, t: [topics], c: call_sid if busy}."""
    return f"{_org(org)}:liaisons"


def free(org: str) -> str:
    """Zset of available liaisons, scored by the time they became available."""
    return f"{_org(org)}:free"


def presence_counts(org: str) -> str:
    """Hash status -> number of liaisons, kept as presence changes."""
    return f"{_org(org)}:presence"


def claim_times(org: str) -> str:
    """List of recent claim times (ms), newest first, capped."""
    return f"{_org(org)}:claims"


def queue(org: str, topic: str, klass: str) -> str:
    """Zset of waiting calls of one topic and class, scored by enqueue time (ms)."""
    return f"{_org(org)}:q:{check_topic(topic)}:{klass}"


def free_topic(org: str, topic: str) -> str:
    """Zset of available liaisons who know `topic`, scored like `free`."""
    return f"{_org(org)}:free:{check_topic(topic)}"


def recent_waits(org: str, topic: str) -> str:
    """List of recent actual waits (ms) of claimed calls of one topic, newest first, capped."""
    return f"{_org(org)}:waits:{check_topic(topic)}"


def org_layout(org: str, topics: Sequence[str]) -> list[str]:
    keys = [topic_index(org), topic_index_version(org), calls(org), liaisons(org), free(org),
            presence_counts(org), claim_times(org)]
    for topic in topics:
        keys += [queue(org, topic, "pro"), queue(org, topic, "cit"), free_topic(org, topic), recent_waits(org, topic)]
    return keys


# -- keys outside the router --------------------------------------------------------------------

def live_state_marker() -> str:
    """Set when the live state was (re)built from SQL; its absence means Redis lost its data."""
    return f"{PREFIX}:live:built"


PIN_BUCKETS = ("number", "code", "own")


def pin_bucket(kind: str, name: str) -> str:
    """Hash {n: wrong PINs in a row, until: Unix time the bucket is closed until} of one PIN-guessing bucket:
    kind `number` (a caller pseudonym), `code` (a code typed from other numbers), `own` (a code typed from its
    caseworker's registered numbers)."""
    if kind not in PIN_BUCKETS:
        raise ValueError(f"not a PIN bucket: {kind!r}")
    return f"{PREFIX}:guard:pin:{kind}:{name}"


def pin_bucket_pattern() -> str:
    """SCAN pattern of every PIN bucket."""
    return f"{PREFIX}:guard:pin:*"


def pin_wrong_in_hour(hour: int) -> str:
    """Counter of wrong PINs across all codes in one clock hour (Unix time // 3600)."""
    return f"{PREFIX}:guard:pin-hour:{hour}"


def announced(call_sid: str) -> str:
    """Queue time (s) at which a waiting call last heard its expected wait."""
    return f"{PREFIX}:guard:announced:{call_sid}"


def webhook_replay(digest: str) -> str:
    """A webhook request seen in the replay window, with its response once there is one."""
    return f"{PREFIX}:guard:replay:{digest}"


# -- wallboard (live figures) ---------------------------------------------------------------------
# Under the organisation's hash tag, so one script counts a call and updates the waiting index
# together on a Redis Cluster too. Day keys expire after about two days.

def live_waiting(org: str) -> str:
    """Hash call_sid -> JSON {d: [org, topic, location, line kind], q: queued at ms}: the wallboard's waiting calls."""
    return f"{_org(org)}:live:waiting"


def live_on_hold(org: str) -> str:
    """Hash call_sid -> JSON {d: dims, q: on hold since ms}: callers of the organisation on hold during a consult."""
    return f"{_org(org)}:live:on_hold"


def live_counts(org: str, day: str) -> str:
    """Hash "org|topic|location|line kind|metric" -> count, for calls that arrived on the local day (yyyy-mm-dd)."""
    return f"{_org(org)}:live:{day}:counts"


def live_counted(org: str, day: str) -> str:
    """Set of "call_sid|metric" already counted on the day: a repeated webhook never counts twice."""
    return f"{_org(org)}:live:{day}:counted"


def demo_clock_anchor(*, start: str, scale: float) -> str:
    """Demo only: the real Unix time at which the demo clock (start, scale) read `start`, shared by its processes."""
    return f"{PREFIX}:demo-clock:{start}:{scale:g}"


def outbound_pace() -> str:
    """String: the earliest moment (Redis server time, microseconds) the next outbound call may be placed."""
    return f"{PREFIX}:outbound:next"


def demo_clock_work(*, start: str, scale: float) -> str:
    """Demo only: a sorted set of that demo clock's open marks of routing after a webhook's reply (member: a
    mark, score: the Unix time it lapses by); the demo day's emulator keeps its clock still while one is open."""
    return f"{PREFIX}:demo-clock-work:{start}:{scale:g}"


def demo_clock_pauses(*, start: str, scale: float) -> str:
    """Demo only: a hash of how long that demo clock stood still while webhooks were answered (`stood`, real
    seconds) and since when it stands still now (`since`, a Unix time, empty while it runs)."""
    return f"{PREFIX}:demo-clock-pauses:{start}:{scale:g}"
