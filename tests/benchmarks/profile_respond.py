"""cProfile of the webhook edge's work for new calls, in one process (issue 13, target 6).

Run: .venv/bin/python -m tests.benchmarks.profile_respond [N]

The app in-process (Starlette's TestClient) on a real redis-server and a SQLite file with the demo
directory open all hours; N (1,500) signed new calls from a caseworker after 200 to warm up. Prints wall
and CPU time per call of `WebhookEdge.respond` (the replay guard, the call flow, SQL) and its profile by
cumulative time. The HTTP layer is left out: see profile_webhooks.py (py-spy under wrk) for it.
"""

from __future__ import annotations

import pstats
import secrets
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

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
    AUTH_TOKEN,
    FAST_PINS,
    PROFESSIONAL_LINE,
    open_all_hours_directory,
)
from tests.servers import redis_server

PUBLIC_URL = "http://testserver"
WARM = 200


def new_call(validator: RequestValidator) -> tuple[str, str]:
    params = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": "CA" + secrets.token_hex(16),
              "CallStatus": "ringing", "Called": PROFESSIONAL_LINE, "Caller": AMSTERDAM_CASEWORKER,
              "Direction": "inbound", "From": AMSTERDAM_CASEWORKER, "To": PROFESSIONAL_LINE}
    return urlencode(params), validator.compute_signature(PUBLIC_URL + "/twilio/voice/incoming", params)


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    workdir = Path(tempfile.mkdtemp(prefix="callrouter-profile-respond-"))
    database = f"sqlite:///{workdir / 'profile.sqlite3'}"
    upgrade(database)
    import_directory(path=open_all_hours_directory(workdir / "directory.yaml"),
                     session_factory=make_session_factory(make_engine(database)), hasher=FAST_PINS)
    with redis_server() as redis_url:
        settings = Settings(database_url=database, redis_url=redis_url, public_url=PUBLIC_URL,
                            twilio_auth_token=AUTH_TOKEN, twilio_account_sid=ACCOUNT_SID, environment="test",
                            log_level="WARNING")
        validator = RequestValidator(AUTH_TOKEN)
        calls = [new_call(validator) for _ in range(count + WARM)]
        with TestClient(create_app(settings, build(settings))) as client:
            def post(body: str, signature: str) -> str:
                return client.post("/twilio/voice/incoming", content=body, headers={
                    "X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}).text

            for body, signature in calls[:WARM]:
                assert "<Gather" in post(body, signature)
            plain, profile, cpu = profiled("respond")
            try:
                for body, signature in calls[WARM:]:
                    post(body, signature)
            finally:
                twilio_webhook.WebhookEdge.respond = plain  # type: ignore[method-assign]
    stats = pstats.Stats(profile)
    wall = stats.total_tt  # type: ignore[attr-defined]
    print(f"{count} new calls: respond() {wall / count * 1e3:.2f} ms wall, {cpu[0] / count * 1e3:.2f} ms CPU per call")
    stats.sort_stats("cumulative").print_stats(40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
