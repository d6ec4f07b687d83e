"""The live queues and liaison presence in Redis; every state change is one Lua script.

Each script receives the organisation's whole key layout (redis_keys.org_layout) for the topics
this process knows, with the version of the topic index it read them at; a script refuses a
stale version and the call is retried with a fresh index, so no queue is ever overlooked and
every key a script touches is declared (one hash tag per organisation: Redis Cluster safe).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import redis as redis_lib
from redis.commands.core import Script

from callrouter.adapters import redis_keys as keys
from callrouter.domain.queueing import (
    ANY_SCAN_LIMIT,
    ANY_TOPIC,
    AbandonResult,
    CallClass,
    Claim,
    OrgSnapshot,
    Presence,
    PresenceResult,
    QueuePosition,
    RequeueResult,
    WaitHistory,
)

HISTORY_SIZE = 50
_STALE_RETRIES = 8
_REASONS = {"ok": "", "refused": "busy_with_call", "stale": "not_this_call", "unknown": "unknown_liaison",
            "moved": "status_changed"}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _load_scripts(client: redis_lib.Redis) -> dict[str, Script]:
    folder = resources.files("callrouter.adapters") / "lua"
    prelude = (folder / "prelude.lua").read_text()
    names = ("enqueue", "dispatch", "claim", "requeue", "abandon", "presence", "position", "stats", "rebuild")
    return {name: client.register_script(prelude + "\n" + (folder / f"{name}.lua").read_text()) for name in names}


class RedisRouter:
    def __init__(
        self, redis: redis_lib.Redis, *, widen_after_ms: int, citizen_promote_after_ms: int,
        history_size: int = HISTORY_SIZE,
    ) -> None:
        self._redis = redis
        self.widen_after_ms = widen_after_ms
        self.citizen_promote_after_ms = citizen_promote_after_ms
        self._history_size = history_size
        self._scripts = _load_scripts(redis)
        self._layouts: dict[str, tuple[str, tuple[str, ...]]] = {}  # org -> (index version, topics)

    # -- plumbing -------------------------------------------------------------------------------

    def _refresh_layout(self, org: str) -> tuple[str, tuple[str, ...]]:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.topic_index_version(org))
            pipe.smembers(keys.topic_index(org))
            version, members = pipe.execute()
        layout = (_text(version) if version is not None else "0", tuple(sorted(_text(m) for m in members)))
        self._layouts[org] = layout
        return layout

    def _run(self, name: str, org: str, args: Sequence[Any], *, topics: Iterable[str] = ()) -> Any:
        """Run one script with the org's key layout; `topics` adds topics the index may lack yet."""
        keys.check_org(org)
        extra = [keys.check_topic(t) for t in topics]
        layout = self._layouts.get(org) or self._refresh_layout(org)
        for _ in range(_STALE_RETRIES):
            version, known = layout
            all_topics = list(known) + [t for t in dict.fromkeys(extra) if t not in known]
            try:
                return self._scripts[name](
                    keys=keys.org_layout(org, all_topics), args=[version, len(all_topics), *all_topics, *args]
                )
            except redis_lib.ResponseError as error:
                if "STALE" not in str(error):
                    raise
            layout = self._refresh_layout(org)
        raise RuntimeError(f"topic index of {org} keeps changing; gave up after {_STALE_RETRIES} tries")

    # -- calls ----------------------------------------------------------------------------------

    def enqueue(self, *, call_sid: str, org: str, topic: str, klass: CallClass | str, enqueued_at_ms: int) -> bool:
        """Put a call in its queue; False if the call was already known (enqueue is idempotent)."""
        klass = CallClass(klass)
        added = self._run("enqueue", org, [call_sid, topic, klass.value, int(enqueued_at_ms)], topics=[topic])
        return bool(added)

    def dispatch(self, *, org: str, now_ms: int) -> list[Claim]:
        """Claim every (call, liaison) pair that can be made now."""
        rows = self._run(
            "dispatch", org,
            [int(now_ms), self.widen_after_ms, self.citizen_promote_after_ms, self._history_size, ANY_SCAN_LIMIT],
        )
        return [
            Claim(call_sid=_text(sid), liaison_id=int(lid), org=org, topic=_text(topic), klass=CallClass(_text(k)),
                  waited_ms=int(waited))
            for sid, lid, topic, k, waited in rows
        ]

    def claim(self, *, call_sid: str, liaison_id: int, org: str, now_ms: int) -> str:
        """A liaison takes one waiting call: "ok", "not_waiting" or "not_available" (atomic, one script)."""
        return _text(self._run("claim", org, [call_sid, int(liaison_id), int(now_ms)]))

    def requeue_after_no_answer(
        self, *, call_sid: str, liaison_id: int, org: str, now_ms: int | None = None
    ) -> RequeueResult:
        """Back to the front of its class (original enqueue time); the liaison goes away."""
        now = "" if now_ms is None else int(now_ms)
        requeued, away = self._run("requeue", org, [call_sid, int(liaison_id), now])
        return RequeueResult(requeued=bool(requeued), liaison_set_away=bool(away))

    def abandon(self, *, call_sid: str, org: str, now_ms: int | None = None) -> AbandonResult:
        """The caller hung up while waiting or while being offered: the offered liaison is available again.

        A call already connected ends with `release_liaison` (wrap-up), not here.
        """
        now = "" if now_ms is None else int(now_ms)
        was_queued, freed = self._run("abandon", org, [call_sid, now])
        return AbandonResult(was_queued=bool(was_queued), freed_liaison_id=None if freed is None else int(freed))

    # -- liaisons -------------------------------------------------------------------------------

    def set_presence(
        self, *, liaison_id: int, org: str, topics: Iterable[str], status: Presence | str, now_ms: int,
        only_from: Presence | None = None,
    ) -> PresenceResult:
        """Set status and topics; refused while the liaison holds a call (release it instead), and
        with `only_from` unless the liaison's status is that one now (reason "status_changed")."""
        status = Presence(status)
        if status is Presence.BUSY:
            raise ValueError("busy is set by the router when it claims a call")
        wanted = sorted({keys.check_topic(t) for t in topics} - {ANY_TOPIC})
        reply = self._run(
            "presence", org,
            ["set", int(liaison_id), status.value, int(now_ms), json.dumps(wanted), only_from.value if only_from else ""],
            topics=wanted,
        )
        return self._presence_result(reply)

    def release_liaison(
        self, *, liaison_id: int, org: str, status: Presence | str, now_ms: int, call_sid: str | None = None
    ) -> PresenceResult:
        """The liaison's call has ended (or there was none): available, wrap-up, away or offline.

        With `call_sid`, refused (reason "not_this_call") unless the liaison still holds that call:
        a late or repeated status callback must not end the liaison's next call.
        """
        status = Presence(status)
        if status is Presence.BUSY:
            raise ValueError("a released liaison is not busy")
        reply = self._run("presence", org, ["release", int(liaison_id), status.value, int(now_ms), call_sid or ""])
        return self._presence_result(reply)

    @staticmethod
    def _presence_result(reply: list[Any]) -> PresenceResult:
        outcome, status, call_sid = _text(reply[0]), reply[1], reply[2]
        return PresenceResult(
            accepted=outcome == "ok",
            status=None if status is None else Presence(_text(status)),
            call_sid=None if call_sid is None else _text(call_sid),
            reason=_REASONS[outcome],
        )

    def call_of_liaison(self, *, liaison_id: int, org: str) -> str | None:
        raw = self._redis.hget(keys.liaisons(org), str(int(liaison_id)))
        return None if raw is None else json.loads(raw).get("c")

    def liaison_status(self, *, liaison_id: int, org: str) -> Presence | None:
        raw = self._redis.hget(keys.liaisons(org), str(int(liaison_id)))
        return None if raw is None else Presence(json.loads(raw)["s"])

    def liaison_since_ms(self, *, liaison_id: int, org: str) -> int | None:
        """When the liaison's status last changed (for a busy one: when the router claimed their call)."""
        raw = self._redis.hget(keys.liaisons(org), str(int(liaison_id)))
        since = None if raw is None else json.loads(raw).get("since")
        return None if since is None else int(since)

    def liaison_of_call(self, *, call_sid: str, org: str) -> int | None:
        raw = self._redis.hget(keys.calls(org), call_sid)
        liaison = None if raw is None else json.loads(raw).get("l")
        return None if liaison is None else int(liaison)

    # -- figures --------------------------------------------------------------------------------

    def position(self, *, call_sid: str, org: str) -> QueuePosition | None:
        """Place in line for the liaisons who serve this call; None if it is not waiting."""
        reply = self._run("position", org, [call_sid, self.citizen_promote_after_ms])
        return None if reply is None else QueuePosition(position=int(reply[0]), size=int(reply[1]))

    def waiting_count(self, *, org: str) -> int:
        return int(self._run("stats", org, [])[0])

    def oldest_wait_ms(self, *, org: str, now_ms: int) -> int | None:
        oldest = self._run("stats", org, [])[1]
        return None if oldest is None else max(0, int(now_ms) - int(oldest))

    def presence_counts(self, *, org: str) -> dict[Presence, int]:
        counts = {status: 0 for status in Presence}
        for status, count in self._redis.hgetall(keys.presence_counts(org)).items():
            counts[Presence(_text(status))] = int(count)
        return counts

    def recent_waits(self, *, org: str, topic: str) -> list[int]:
        """Actual waits (ms) of the latest claimed calls of the topic, newest first."""
        return [int(v) for v in self._redis.lrange(keys.recent_waits(org, topic), 0, -1)]

    def recent_claim_times(self, *, org: str) -> list[int]:
        """Times (ms) of the organisation's latest claims, newest first."""
        return [int(v) for v in self._redis.lrange(keys.claim_times(org), 0, -1)]

    def wait_history(self, *, org: str, topic: str) -> WaitHistory:
        pipe = self._redis.pipeline(transaction=False)
        pipe.lrange(keys.recent_waits(org, topic), 0, -1)
        pipe.lrange(keys.claim_times(org), 0, -1)
        pipe.hgetall(keys.presence_counts(org))
        waits, claims, presence = pipe.execute()
        counts = {status: 0 for status in Presence}
        for status, count in presence.items():
            counts[Presence(_text(status))] = int(count)
        return WaitHistory(waits_ms=tuple(int(v) for v in waits), claim_times_ms=tuple(int(v) for v in claims),
                           presence=counts)

    # -- rebuild from SQL -----------------------------------------------------------------------

    def rebuild(self, *, snapshots: Iterable[OrgSnapshot]) -> None:
        """Replace each organisation's live state with the snapshot (one script per organisation)."""
        for snap in snapshots:
            data = _snapshot_json(snap)
            self._run("rebuild", snap.org, [json.dumps(data)], topics=data["topics"])


def _snapshot_json(snap: OrgSnapshot) -> dict[str, Any]:
    """The snapshot made consistent: an offer counts only if both sides agree on it."""
    holders = {lia.call_sid: lia.liaison_id for lia in snap.liaisons if lia.call_sid}
    calls: dict[str, dict[str, Any]] = {}
    topics: set[str] = set()
    for call in snap.calls:
        record = {"s": call.call_sid, "t": keys.check_topic(call.topic), "k": CallClass(call.klass).value,
                  "e": int(call.enqueued_at_ms)}
        if call.liaison_id is not None and holders.get(call.call_sid) == call.liaison_id:
            record["l"] = int(call.liaison_id)
        calls[call.call_sid] = record
        topics.add(call.topic)
    liaisons = []
    for lia in snap.liaisons:
        lia_topics = sorted({keys.check_topic(t) for t in lia.topics} - {ANY_TOPIC})
        topics.update(lia_topics)
        entry: dict[str, Any] = {"i": str(int(lia.liaison_id)), "t": lia_topics, "since": int(lia.since_ms)}
        sid = lia.call_sid
        queued = sid in calls and calls[sid].get("l") != lia.liaison_id  # SQL says the call still waits
        if sid and holders.get(sid) == lia.liaison_id and not queued:
            entry["s"], entry["c"] = Presence.BUSY.value, sid
            calls.setdefault(sid, {"s": sid, "l": int(lia.liaison_id)})  # a connected call
        else:
            status = Presence(lia.status)
            entry["s"] = (Presence.AWAY if status is Presence.BUSY else status).value  # never busy with nothing
        liaisons.append(entry)
    return {"topics": sorted(topics), "calls": list(calls.values()), "liaisons": liaisons}
