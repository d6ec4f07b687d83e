"""One helper of the profile_* scripts: cProfile and CPU time of every run of one WebhookEdge method."""

from __future__ import annotations

import cProfile
import time
from typing import Any

from callrouter.web import twilio_webhook


def profiled(name: str) -> tuple[Any, cProfile.Profile, list[float]]:
    """Profile every run of a WebhookEdge method (they run one at a time here: the test client waits)."""
    plain, profile, cpu = getattr(twilio_webhook.WebhookEdge, name), cProfile.Profile(), [0.0]

    def wrapped(self: twilio_webhook.WebhookEdge, *args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        profile.enable()
        try:
            return plain(self, *args, **kwargs)
        finally:
            profile.disable()
            cpu[0] += time.thread_time() - started

    setattr(twilio_webhook.WebhookEdge, name, wrapped)
    return plain, profile, cpu
