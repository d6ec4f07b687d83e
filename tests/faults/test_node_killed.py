"""A node dies (SIGKILL to host b's web processes and its worker) with calls in flight: HAProxy takes it out
within seconds, and no call, callback or event is lost, no liaison double-booked or left busy."""

from __future__ import annotations

import time

import pytest

from tests.faults.cluster import FAULT_TIMEOUT_SECONDS, Cluster, wait_until
from tests.faults.traffic import Figures, Traffic

pytestmark = pytest.mark.timeout(FAULT_TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def killed(cluster_once: Cluster, record_figures_once) -> Figures:  # type: ignore[no-untyped-def]
    cluster_once.ensure_running()
    traffic = Traffic(cluster_once).start()
    traffic.wait_until_placed(20)
    time.sleep(1.0)
    in_flight = traffic.in_flight()
    at = cluster_once.emulator.engine.clock.now()
    cluster_once.hosts["b"].kill()
    out_after = wait_until(lambda: cluster_once.server_status()["web2"].startswith("DOWN"), timeout=15,
                           what="web2 DOWN in HAProxy", every=0.05)
    traffic.wait_until_ended()
    traffic.settle()
    figures = traffic.figures(in_flight_at_fault=in_flight)
    figures.recover_s = round(out_after, 2)
    figures.notes.update(web2_down_after_s=round(out_after, 2), killed_at_emulator_t=round(at, 1))
    record_figures_once("node killed", figures)
    return figures


def test_haproxy_takes_the_dead_node_out_within_seconds(killed: Figures) -> None:
    assert killed.recover_s is not None and killed.recover_s < 5, killed.recover_s


def test_no_call_is_lost_and_no_liaison_double_booked(killed: Figures) -> None:
    assert killed.lost == 0 and killed.double_booked == 0, killed.problems


def test_every_webhook_is_answered_and_every_liaison_free_afterwards(killed: Figures) -> None:
    assert killed.webhook_errors == 0, killed.problems  # only Twilio's timeout on a loaded machine, counted
    assert killed.double_dials == 0 and killed.liaisons_busy_after == 0, killed.problems
    assert killed.answered + killed.called_back + killed.timed_out == killed.calls, killed
