"""RQ jobs. Each builds (once per worker process) the services from settings and makes one call."""

from __future__ import annotations

import logging
from functools import cache

from callrouter import pause_points
from callrouter.adapters import redis_keys
from callrouter.bootstrap import Container, build
from callrouter.config import Settings
from callrouter.services.calls.reconcile import reconcile
from callrouter.services.calls.routing import dispatch

log = logging.getLogger("callrouter.workers")
QUEUE = "callrouter"
RECONCILE_EVERY_SECONDS = 10  # how often `callrouter cron` enqueues reconcile_live_state (workers/cron.py)


@cache
def container() -> Container:
    app = build(Settings())
    pause_points.install(app)  # test-only; a no-op unless a fault test sets FAULT_TEST_PAUSE_BEFORE
    return app


def reconcile_live_state() -> dict[str, object]:
    """Rebuild Redis from SQL when it lost its data, return lost offers, route what can be routed."""
    app = container()
    marker = redis_keys.live_state_marker()
    present = bool(app.redis.exists(marker))
    report = reconcile(app.voice, live_state_present=present)
    if not present:
        app.redis.set(marker, "1")
    return {"rebuilt": report.rebuilt, "returned_offers": report.returned_offers, "dispatched": report.dispatched}


def dispatch_organisation(org: str) -> int:
    """Route the waiting calls of one organisation (enqueued by anything that frees a liaison)."""
    return dispatch(container().voice, org=org)


def end_wrap_up(liaison_id: int) -> bool:
    """A liaison's wrap-up time is up (scheduled with RQ's enqueue_at when their call ended)."""
    from callrouter.services.staff.presence import end_wrap_up as end

    return end(container().voice, liaison_id=liaison_id)


def start_callback_attempt(callback_id: int, liaison_id: int) -> bool:
    """Claim the attempt on the row and call the liaison; False when another run already took it."""
    from callrouter.services.callbacks.lifecycle import start_attempt

    return start_attempt(container().voice, callback_id=callback_id, liaison_id=liaison_id)


def make_callback_due(callback_id: int) -> bool:
    """A callback's moment has come (scheduled with RQ's enqueue_at): it joins the line."""
    from callrouter.services.callbacks.lifecycle import make_due

    return make_due(container().voice, callback_id=callback_id)
