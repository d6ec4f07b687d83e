"""The Redis primary's machine dies (SIGKILL to redis-server) under traffic: the sentinels promote the replica,
the clients find it; every waiting call is afterwards answered, called back or told; no liaison
double-booked or left busy; webhooks answer TwiML. Then the machine comes back (a fresh redis-server on the
old port) and the sentinels make it the new primary's replica."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.faults.cluster import FAULT_TIMEOUT_SECONDS, Cluster, primary_port, redis_cli, wait_until
from tests.faults.traffic import Figures, under_traffic

pytestmark = pytest.mark.timeout(FAULT_TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def killed(cluster_once: Cluster, record_figures_once) -> Figures:  # type: ignore[no-untyped-def]
    redis = cluster_once.redis
    timings: dict[str, float] = {}

    def inject() -> float:
        old = primary_port(cluster_once)
        victim = next(p for p in redis.nodes if p.port == old)
        started = time.monotonic()
        victim.proc.kill()
        victim.proc.wait(timeout=10)
        timings["promoted_s"] = wait_until(lambda: primary_port(cluster_once) != old, timeout=30,
                                           what="a new primary")
        wait_until(lambda: all(h.ready() for h in cluster_once.hosts.values()), timeout=30, what="both hosts ready")
        recovered = time.monotonic() - started
        # The machine is back: an empty redis-server on the old port; the sentinels make it a replica.
        folder = cluster_once.workdir / f"redis-{old}-rejoined"
        folder.mkdir(exist_ok=True)
        victim.proc = subprocess.Popen(
            ["redis-server", "--port", str(old), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder), "--loglevel", "warning", *redis.server_args],
            stdout=subprocess.DEVNULL)
        cluster_once.spawned.append(victim.proc)
        timings["rejoined_s"] = wait_until(
            lambda: "master_link_status:up" in redis_cli(old, "INFO", "replication"), timeout=60,
            what="the old primary a replica in sync")
        return recovered

    figures = under_traffic(cluster_once, inject)
    figures.notes.update({k: round(v, 2) for k, v in timings.items()})
    record_figures_once("redis primary killed", figures)
    return figures


def test_every_waiting_call_is_answered_called_back_or_told(killed: Figures) -> None:
    assert killed.other_end == 0, killed
    assert killed.answered + killed.called_back + killed.told_apology + killed.timed_out == killed.calls, killed
    assert killed.lost == 0, killed.problems


def test_no_double_dial_no_liaison_double_booked_none_left_busy(killed: Figures) -> None:
    assert killed.double_dials == 0 and killed.double_booked == 0, killed.problems
    assert killed.liaisons_busy_after == 0, killed


def test_webhooks_answer_twiml_never_a_5xx(killed: Figures) -> None:
    assert killed.webhook_errors == 0, killed.problems  # only Twilio's timeout on a loaded machine, counted
