"""PostgreSQL restarted under traffic (a fast shutdown, 2 s away, started again): webhooks answer at worst the
apology, nothing accepted before is lost, and the work resumes by itself."""

from __future__ import annotations

import time

import pytest

from tests.faults.cluster import FAULT_TIMEOUT_SECONDS, Cluster, wait_until
from tests.faults.traffic import Figures, under_traffic

pytestmark = pytest.mark.timeout(FAULT_TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def restarted(cluster_once: Cluster, record_figures_once) -> Figures:  # type: ignore[no-untyped-def]
    statuses: list[dict[str, str]] = []

    def inject() -> float:
        started = time.monotonic()
        cluster_once.postgres.stop("fast")
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            statuses.append(cluster_once.server_status())
            time.sleep(0.2)
        cluster_once.postgres.start()
        wait_until(lambda: all(h.ready() for h in cluster_once.hosts.values()), timeout=30, what="both hosts ready")
        recovered = time.monotonic() - started
        wait_until(lambda: set(cluster_once.server_status().values()) == {"UP"}, timeout=30, what="both UP")
        return recovered

    figures = under_traffic(cluster_once, inject)
    figures.notes["both_backends_down_seen"] = any(set(s.values()) == {"DOWN"} for s in statuses)
    record_figures_once("postgres restart", figures)
    return figures


def test_nothing_accepted_is_lost_and_work_resumes(restarted: Figures) -> None:
    assert restarted.lost == 0, restarted.problems
    assert restarted.other_end == 0, restarted
    assert restarted.double_dials == 0 and restarted.double_booked == 0, restarted.problems
    assert restarted.liaisons_busy_after == 0, restarted


def test_webhooks_answer_at_worst_the_apology(restarted: Figures) -> None:
    assert restarted.webhook_errors == 0, restarted.problems  # only Twilio's timeout on a loaded machine, counted
