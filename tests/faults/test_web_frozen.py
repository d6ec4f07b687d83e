"""A web machine frozen (SIGSTOP to host b's uvicorn and its worker processes), then resumed: HAProxy takes it
out while it is frozen; what it held waits and is answered when it resumes (or, past Twilio's 15 s, times
out: those callers hear Twilio's error, the only webhooks allowed to fail here); nothing accepted is lost,
no liaison double-booked or left busy, never a 5xx."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.faults.cluster import FAULT_TIMEOUT_SECONDS, Cluster, wait_until
from tests.faults.traffic import Figures, under_traffic

pytestmark = pytest.mark.timeout(FAULT_TIMEOUT_SECONDS)

FROZEN_SECONDS = 5.0  # longer than HAProxy's two failed checks, shorter than Twilio's 15 s webhook timeout


@pytest.fixture(scope="module")
def frozen(cluster_once: Cluster, record_figures_once) -> Figures:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def inject() -> float:
        web = cluster_once.hosts["b"].web
        assert web is not None
        started = time.monotonic()
        os.killpg(web.pid, signal.SIGSTOP)
        try:
            seen["down_after_s"] = round(wait_until(lambda: cluster_once.server_status()["web2"].startswith("DOWN"),
                                                    timeout=FROZEN_SECONDS, what="web2 DOWN", every=0.05), 2)
        except AssertionError:
            seen["down_after_s"] = None
        time.sleep(max(0.0, FROZEN_SECONDS - (time.monotonic() - started)))
        os.killpg(web.pid, signal.SIGCONT)
        wait_until(lambda: set(cluster_once.server_status().values()) == {"UP"}, timeout=30, what="both UP")
        return time.monotonic() - started - FROZEN_SECONDS

    figures = under_traffic(cluster_once, inject)
    figures.notes.update(frozen_s=FROZEN_SECONDS, web2_down_after_s=seen["down_after_s"])
    record_figures_once("web frozen", figures)
    return figures


def test_haproxy_takes_the_frozen_machine_out(frozen: Figures) -> None:
    assert frozen.notes["web2_down_after_s"] is not None, frozen.notes


def test_nothing_accepted_is_lost_and_no_liaison_double_booked(frozen: Figures) -> None:
    assert frozen.lost == 0 and frozen.double_booked == 0 and frozen.double_dials == 0, frozen.problems
    assert frozen.answered + frozen.called_back + frozen.timed_out == frozen.calls, frozen


def test_no_webhook_fails_but_by_waiting_on_the_frozen_machine(frozen: Figures) -> None:
    """Requests HAProxy sent to host b before it was out wait for it; answered when it resumes, or, when
    that takes Twilio's 15 s, a timeout (the design cannot promise better: docs/operations.md). Never a 5xx."""
    assert frozen.webhook_errors == 0, frozen.problems
    assert frozen.liaisons_busy_after == 0, frozen
