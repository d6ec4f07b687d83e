"""A test-only hook: a worker or web process that stops for good just before one named call, so a fault test
can SIGKILL it in the middle of a job or a webhook at a known point (tests/faults/test_worker_killed_jobs.py,
tests/faults/test_killed_mid_step.py).

Read once, when the process builds its container, and only when FAULT_TEST_PAUSE_BEFORE is set (never in
production: no unit or setting sets it; unset, nothing is wrapped and nothing costs anything), outside the
settings on purpose: it is not configuration. FAULT_TEST_PAUSE_BEFORE is a dotted path from the container to
a method, e.g. `router.enqueue` or `parts.retention.store.delete_call_records`; when that method is first
called, the process writes the path to FAULT_TEST_PAUSE_FILE and sleeps until it is killed.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

PAUSE_BEFORE = "FAULT_TEST_PAUSE_BEFORE"
PAUSE_FILE = "FAULT_TEST_PAUSE_FILE"


def install(container: object) -> None:
    """Wrap the named method of the container's part (no-op unless the test variables are set)."""
    point, marker = os.environ.get(PAUSE_BEFORE), os.environ.get(PAUSE_FILE)
    if not point or not marker:
        return
    *path, method = point.split(".")
    owner: Any = container
    for name in path:
        owner = getattr(owner, name)
    original = getattr(owner, method)

    @functools.wraps(original)
    def paused(*args: object, **kwargs: object) -> object:
        Path(marker).write_text(point)
        while True:  # until SIGKILL: the job is "in the middle"
            time.sleep(3600)

    object.__setattr__(owner, method, paused)  # an instance attribute, also on frozen dataclasses
