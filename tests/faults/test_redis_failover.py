"""A Redis failover under traffic (SENTINEL FAILOVER: the replica becomes the primary): every waiting call is
afterwards answered, called back or told; no call dialled twice, no liaison double-booked; every webhook
answered with TwiML (at worst the apology), never a 5xx."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.faults.cluster import FAULT_TIMEOUT_SECONDS, Cluster, wait_until
from tests.faults.traffic import Figures, under_traffic

pytestmark = pytest.mark.timeout(FAULT_TIMEOUT_SECONDS)


def _cli(port: int, *args: str) -> str:
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=5,
                          check=False).stdout.strip()


@pytest.fixture(scope="module")
def failover(cluster_once: Cluster, record_figures_once) -> Figures:  # type: ignore[no-untyped-def]
    redis = cluster_once.redis
    sentinel = redis.sentinel_ports[0]
    before = _cli(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", redis.service).splitlines()[-1]
    timings: dict[str, float] = {}

    def inject() -> float:
        started = time.monotonic()
        assert _cli(sentinel, "SENTINEL", "FAILOVER", redis.service) == "OK"
        timings["promoted_s"] = wait_until(
            lambda: _cli(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", redis.service).splitlines()[-1] != before,
            timeout=30, what="a new primary")
        old = int(before)
        wait_until(lambda: "role:slave" in _cli(old, "INFO", "replication"), timeout=30, what="the old primary demoted")
        timings["demoted_s"] = time.monotonic() - started
        wait_until(lambda: all(h.ready() for h in cluster_once.hosts.values()), timeout=30, what="both hosts ready")
        return time.monotonic() - started

    figures = under_traffic(cluster_once, inject)
    figures.notes.update({k: round(v, 2) for k, v in timings.items()})
    record_figures_once("redis failover", figures)
    return figures


def test_every_waiting_call_is_answered_called_back_or_told(failover: Figures) -> None:
    assert failover.other_end == 0, failover
    assert failover.answered + failover.called_back + failover.told_apology + failover.timed_out == failover.calls, failover
    assert failover.lost == 0, failover.problems


def test_no_double_dial_and_no_liaison_double_booked(failover: Figures) -> None:
    assert failover.double_dials == 0 and failover.double_booked == 0, failover.problems


def test_webhooks_answer_twiml_never_a_5xx(failover: Figures) -> None:
    assert failover.webhook_errors == 0, failover.problems  # only Twilio's timeout on a loaded machine, counted


def test_no_liaison_stays_busy(failover: Figures) -> None:
    assert failover.liaisons_busy_after == 0, failover
