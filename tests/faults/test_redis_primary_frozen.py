"""The Redis primary freezes (SIGSTOP to its redis-server) under traffic, and thaws (SIGCONT) after the
sentinels promoted a replica: clients that held connections to it time out and find the new primary. The
thawed primary believes it is the primary until the sentinels tell it otherwise; without
`min-replicas-to-write` it answered OK to writes that were then lost (the issue's "Facts"), with it (the stack
sets it, as docs/operations.md says) it refuses them: its replicas left it while it was frozen. Afterwards
every waiting call is answered, called back or told; no call dialled twice, no liaison double-booked; every
webhook answered with TwiML (at worst the apology), never a 5xx; the longest webhook time is in the figures."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.faults.cluster import FAULT_TIMEOUT_SECONDS, Cluster, primary_port, redis_cli, wait_until
from tests.faults.traffic import Figures, under_traffic

pytestmark = pytest.mark.timeout(FAULT_TIMEOUT_SECONDS)

THAW_AFTER_PROMOTION_SECONDS = 3.0  # the frozen machine comes back a while after the failover, not at once


@pytest.fixture(scope="module")
def frozen(cluster_once: Cluster, record_figures_once) -> Figures:  # type: ignore[no-untyped-def]
    redis = cluster_once.redis
    timings: dict[str, float] = {}
    thawed_write: list[str] = []

    def inject() -> float:
        old = primary_port(cluster_once)
        victim = next(p for p in redis.nodes if p.port == old)
        for other in redis.nodes:  # else the sentinels may promote an empty replica
            if other is not victim:
                redis.wait_replica_in_sync(other)
        started = time.monotonic()
        os.kill(victim.proc.pid, signal.SIGSTOP)
        try:
            timings["promoted_s"] = wait_until(lambda: primary_port(cluster_once) != old, timeout=60,
                                               what="a new primary")
            time.sleep(THAW_AFTER_PROMOTION_SECONDS)
        finally:
            os.kill(victim.proc.pid, signal.SIGCONT)
        timings["thawed_s"] = time.monotonic() - started
        # A write the way a client that still holds a connection to the thawed primary writes, once the thawed
        # server has handled what came while it was frozen (its replicas' links closed, as they now follow the
        # new primary).
        wait_until(lambda: "connected_slaves:0" in redis_cli(old, "INFO", "replication"), timeout=10,
                   what="the thawed primary without replicas", every=0.05)
        thawed_write.append(redis_cli(old, "SET", "callrouter:faults:thawed-write", "1"))
        timings["demoted_s"] = wait_until(lambda: "role:slave" in redis_cli(old, "INFO", "replication"), timeout=60,
                                          what="the thawed primary demoted") + timings["thawed_s"]
        wait_until(lambda: "master_link_status:up" in redis_cli(old, "INFO", "replication"), timeout=60,
                   what="the thawed primary a replica in sync")
        wait_until(lambda: all(h.ready() for h in cluster_once.hosts.values()), timeout=30, what="both hosts ready")
        return time.monotonic() - started

    figures = under_traffic(cluster_once, inject)
    figures.notes.update({k: round(v, 2) for k, v in timings.items()})
    figures.notes["thawed_write"] = thawed_write[0] if thawed_write else None
    record_figures_once("redis primary frozen", figures)
    return figures


def test_every_waiting_call_is_answered_called_back_or_told(frozen: Figures) -> None:
    assert frozen.other_end == 0, frozen
    assert frozen.answered + frozen.called_back + frozen.told_apology + frozen.timed_out == frozen.calls, frozen
    assert frozen.lost == 0, frozen.problems


def test_the_thawed_primary_refuses_writes_it_would_lose(frozen: Figures) -> None:
    # NOREPLICAS (min-replicas-to-write: no replica follows it) or READONLY (already demoted); never OK.
    reply = str(frozen.notes["thawed_write"])
    assert reply.startswith(("NOREPLICAS", "READONLY")), reply


def test_no_double_dial_and_no_liaison_double_booked(frozen: Figures) -> None:
    assert frozen.double_dials == 0 and frozen.double_booked == 0, frozen.problems


def test_webhooks_answer_twiml_never_a_5xx(frozen: Figures) -> None:
    assert frozen.webhook_errors == 0, frozen.problems  # only Twilio's timeout on a loaded machine, counted
    assert frozen.longest_webhook_s > 0, frozen


def test_no_liaison_stays_busy(frozen: Figures) -> None:
    assert frozen.liaisons_busy_after == 0, frozen
