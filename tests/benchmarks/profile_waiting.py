"""cProfile of one turn of the hold loop (the wait webhook) with many calls waiting, in one process (issue 13,
target 3).

Run: .venv/bin/python -m tests.benchmarks.profile_waiting [CALLS] [TURNS]

The app in-process (Starlette's TestClient, which also runs the work after the reply) on a real redis-server
and a SQLite file with the demo directory open all hours and UWV's liaison away, so every call waits. CALLS
(1,000) calls go through the menus into UWV's line; then TURNS (2,000) wait webhooks, one after another, of
those calls. Prints wall and CPU time per turn (the reply and the work after it) and the profile by
cumulative time.
"""

from __future__ import annotations

import pstats
import secrets
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from callrouter.adapters.sql.directory_import import import_directory
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from callrouter.bootstrap import build
from callrouter.config import Settings
from callrouter.web import twilio_webhook
from callrouter.web.app import create_app
from tests.benchmarks.profiling import profiled
from tests.e2e.stack import (
    ACCOUNT_SID,
    AMSTERDAM_CASEWORKER,
    API_TOKEN,
    AUTH_TOKEN,
    FAST_PINS,
    PROFESSIONAL_LINE,
    open_all_hours_directory,
)
from tests.servers import redis_server

PUBLIC_URL = "http://testserver"
MENU = ["#", "1", "1"]  # no case reference, UWV, WW


class Caller:
    def __init__(self, client: TestClient, validator: RequestValidator):
        self.client, self.validator = client, validator
        self.sid = "CA" + secrets.token_hex(16)
        self.wait_url = ""

    def post(self, url: str, **extra: str) -> ET.Element:
        params = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": self.sid,
                  "CallStatus": "in-progress", "Direction": "inbound", "From": AMSTERDAM_CASEWORKER,
                  "To": PROFESSIONAL_LINE, "Caller": AMSTERDAM_CASEWORKER, "Called": PROFESSIONAL_LINE, **extra}
        parts = urlsplit(url)
        answer = self.client.post(parts.path + (f"?{parts.query}" if parts.query else ""), content=urlencode(params),
                                  headers={"X-Twilio-Signature": self.validator.compute_signature(url, params),
                                           "Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 200, answer.text
        return ET.fromstring(answer.text)

    def to_the_queue(self) -> None:
        root = self.post(PUBLIC_URL + "/twilio/voice/incoming", CallStatus="ringing")
        for digits in MENU:
            gather = root.find("Gather")
            if gather is None:
                break
            root = self.post(gather.get("action", ""), Digits=digits)
        enqueue = root.find("Enqueue")
        assert enqueue is not None, ET.tostring(root)
        self.wait_url = enqueue.get("waitUrl", "")

    def hold_once(self, queue_seconds: int) -> None:
        root = self.post(self.wait_url, QueueTime=str(queue_seconds), QueuePosition="1", QueueSid="QU" + "0" * 32,
                         CurrentQueueSize="1", AvgQueueTime="0")
        redirect = root.find("Redirect")
        if redirect is not None and redirect.text:
            self.wait_url = redirect.text.strip()


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    turns = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    workdir = Path(tempfile.mkdtemp(prefix="callrouter-profile-waiting-"))
    database = f"sqlite:///{workdir / 'profile.sqlite3'}"
    upgrade(database)
    sessions = make_session_factory(make_engine(database))
    import_directory(path=open_all_hours_directory(workdir / "directory.yaml"), session_factory=sessions,
                     hasher=FAST_PINS)
    with redis_server() as redis_url:
        settings = Settings(database_url=database, redis_url=redis_url, public_url=PUBLIC_URL,
                            twilio_auth_token=AUTH_TOKEN, twilio_account_sid=ACCOUNT_SID, environment="test",
                            log_level="WARNING", api_tokens=f"{API_TOKEN}:admin:*")
        container = build(settings)
        with TestClient(create_app(settings, container)) as client:
            jan = container.directory.liaison_by_code("uwv-jan")
            assert jan is not None
            away = client.put(f"/api/liaisons/{jan.id}/presence", json={"status": "away"},
                              headers={"Authorization": f"Bearer {API_TOKEN}"})
            assert away.status_code == 200, away.text
            validator = RequestValidator(AUTH_TOKEN)
            callers = [Caller(client, validator) for _ in range(count)]
            for caller in callers:
                caller.to_the_queue()
            for caller in callers:  # the first turn joins the router's line
                caller.hold_once(1)
            profiles = {name: profiled(name) for name in ("respond", "dispatch_quietly")}
            wall = time.perf_counter()
            try:
                for turn in range(turns):
                    callers[turn % count].hold_once(40 + 10 * (turn // count))
            finally:
                for name, (plain, _profile, _cpu) in profiles.items():
                    setattr(twilio_webhook.WebhookEdge, name, plain)
            wall = time.perf_counter() - wall
    print(f"{count} calls waiting, {turns} wait webhooks: {wall / turns * 1e3:.2f} ms wall per turn "
          f"(the test client included)")
    for name, (_plain, profile, cpu) in profiles.items():
        if not profile.getstats():  # e.g. no wait turn found a liaison free, so nothing was dispatched
            print(f"WebhookEdge.{name}: never ran")
            continue
        stats = pstats.Stats(profile)
        print(f"WebhookEdge.{name}: {stats.total_tt / turns * 1e3:.2f} ms wall, "  # type: ignore[attr-defined]
              f"{cpu[0] / turns * 1e3:.2f} ms CPU per turn")
        stats.sort_stats("cumulative").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
