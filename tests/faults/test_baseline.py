"""No fault: the traffic through HAProxy over two hosts; every call reaches exactly one liaison (or a defined
end), no liaison ever has two calls at once, and the record agrees with what Twilio saw."""

from __future__ import annotations

import pytest

from tests.faults.cluster import FAULT_TIMEOUT_SECONDS, Cluster
from tests.faults.traffic import LIAISONS, Traffic

pytestmark = pytest.mark.timeout(FAULT_TIMEOUT_SECONDS)

CALLS = 100  # the figure: 100 simultaneous calls, 10 liaisons


def test_baseline_every_call_reaches_one_liaison_one_at_a_time(cluster: Cluster, record_figures) -> None:  # type: ignore[no-untyped-def]
    assert len(LIAISONS) == 10
    # Placed over 15 s and talking 45 s (simulated) each: most of the 100 are in the system at once, while the
    # menus' webhooks do not all arrive within a few seconds on 2 shared cores.
    traffic = Traffic(cluster, calls=CALLS, spread=15.0, talk_seconds=45.0).start()
    traffic.wait_until_ended(timeout=240)
    traffic.settle()
    figures = traffic.figures()
    record_figures("baseline", figures)
    assert figures.calls == CALLS
    assert figures.told_apology == 0 and figures.other_end == 0, figures
    assert figures.answered + figures.called_back + figures.timed_out == figures.calls, figures
    assert figures.lost == 0 and figures.double_dials == 0 and figures.double_booked == 0, figures.problems
    assert figures.webhook_errors == 0, figures.problems  # only Twilio's timeout on a loaded machine, counted
    assert figures.liaisons_busy_after == 0, figures
