"""GET /metrics: the webhook histogram, the live gauges, who may read them, and multiprocess mode.

In-process app on a real Redis and a real database (SQLite and PostgreSQL); the multiprocess test
runs the app in two child processes that share one PROMETHEUS_MULTIPROC_DIR.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue, SimpleWorker

from callrouter.domain.callbacks import CallbackState
from callrouter.services.callbacks import lifecycle as service
from tests.integration.conftest import AUTH_TOKEN, PUBLIC_URL, App
from tests.integration.test_callbacks import SATURDAY_NOON, closed_call, dialogue, only_callback
from tests.integration.test_live_state import queue_call
from tests.integration.test_voice_webhooks import call_params, new_sid, twiml

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = ("127.0.0.1", 40000)
METRICS_TOKEN = "metrics-token-for-tests-of-32-characters"  # production needs 32


def scrape(app: App, *, client: tuple[str, int] = LOOPBACK, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    with TestClient(app.client.app, client=client) as peer:
        return peer.get("/metrics", headers=headers or {})


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return found[(name, tuple(sorted(labels.items())))]


def metrics(app: App, **kwargs: object) -> dict:  # type: ignore[type-arg]
    response = scrape(app, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def all_away(app: App, org: str) -> None:
    for liaison in app.container.directory.liaisons_of(org):
        response = app.api("PUT", f"/api/liaisons/{liaison.id}/presence", json={"status": "away"})
        assert response.status_code == 200, response.text


def fail(_: str) -> None:
    raise RuntimeError("a job that fails")


# -- what is measured ------------------------------------------------------------------------------

def test_webhook_latency_and_the_waiting_calls_per_organisation(app: App) -> None:
    before = metrics(app)
    incoming = "/twilio/voice/incoming"
    assert value(before, "callrouter_webhook_seconds_count", path=incoming) == 0
    assert value(before, "callrouter_webhook_seconds_count", path="/twilio/voice/status") == 0  # every route shown
    assert value(before, "callrouter_calls_waiting", organisation="UWV") == 0
    labelled = {dict(labels)["path"] for name, labels in before if name == "callrouter_webhook_seconds_count"}
    # the routes of web/voice_paths.py (the conference bridge's, consult's and /room-join included)
    assert len(labelled) == 27 and {"/twilio/voice/case-reference", "/twilio/voice/room-join"} <= labelled
    for path in labelled:  # each label is a real webhook route: refused unsigned, not "not found"
        assert app.post(path, {}, signed=False).status_code == 403, path

    all_away(app, "UWV")
    first = queue_call(app, from_="+31612345601", digits=["1", "1"])
    app.clock.moment = app.clock.moment.replace(second=30)
    queue_call(app, from_="+31612345602", digits=["1", "2"])
    assert app.post(incoming, call_params(new_sid()), signed=False).status_code == 403  # refused: not timed

    found = metrics(app)
    assert value(found, "callrouter_webhook_seconds_count", path=incoming) == 2
    assert value(found, "callrouter_webhook_seconds_count", path="/twilio/voice/menu") == 4
    assert value(found, "callrouter_webhook_seconds_count", path="/twilio/voice/wait") == 2
    assert value(found, "callrouter_webhook_seconds_bucket", path=incoming, le="+Inf") == 2
    assert value(found, "callrouter_webhook_seconds_sum", path=incoming) > 0
    assert not any(labels and dict(labels).get("path") == "other" for _, labels in found)

    waiting = app.container.router.waiting_count(org="UWV")
    assert waiting == 2 and value(found, "callrouter_calls_waiting", organisation="UWV") == waiting
    assert value(found, "callrouter_calls_waiting", organisation="DUO") == 0
    assert value(found, "callrouter_oldest_wait_seconds", organisation="UWV") == 30  # the fixed clock moved 30 s
    assert value(found, "callrouter_oldest_wait_seconds", organisation="DUO") == 0
    uwv = len(app.container.directory.liaisons_of("UWV"))
    assert value(found, "callrouter_liaisons", organisation="UWV", status="away") == uwv
    assert value(found, "callrouter_liaisons", organisation="UWV", status="available") == 0
    assert {v for (name, _), v in found.items() if name == "callrouter_metrics_source_up"} == {1}

    twiml(app.post("/twilio/voice/queue-exit", call_params(first, QueueResult="hangup")))
    after = metrics(app)
    assert value(after, "callrouter_calls_waiting", organisation="UWV") == 1
    assert value(after, "callrouter_webhook_seconds_count", path="/twilio/voice/queue-exit") == 1


def test_callbacks_per_state_and_failed_worker_jobs(app_factory, redis) -> None:  # noqa: ANN001
    app = app_factory(moment=SATURDAY_NOON, open_all_hours=False)
    found = metrics(app)
    assert {value(found, "callrouter_callbacks", state=s.value) for s in CallbackState} == {0}
    assert value(found, "callrouter_worker_job_failures") == 0

    ids = []
    for caller in ("+31612345601", "+31612345602", "+31612345603"):
        sid = closed_call(app, caller=caller)
        dialogue(app, sid, "closed", caller=caller, Digits="1")
        ids.append(only_callback(app, sid).id)
    service.close(app.container.voice, callback_id=ids[0], to=CallbackState.CANCELLED, cause="test",
                  organisation="UWV")

    queue = Queue("callrouter", connection=redis)
    queue.enqueue(fail, "x")
    SimpleWorker([queue], connection=redis).work(burst=True)

    found = metrics(app)
    assert value(found, "callrouter_callbacks", state="requested") == 2
    assert value(found, "callrouter_callbacks", state="cancelled") == 1
    assert value(found, "callrouter_callbacks", state="completed") == 0
    assert value(found, "callrouter_worker_job_failures") == 1


def test_a_failing_source_leaves_out_only_its_own_gauges(app: App, monkeypatch) -> None:  # noqa: ANN001
    def broken(**_: object) -> int:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(app.container.router, "waiting_count", broken)
    found = metrics(app)
    assert value(found, "callrouter_metrics_source_up", source="directory_redis") == 0
    assert value(found, "callrouter_metrics_source_up", source="sql") == 1
    assert not any(name == "callrouter_calls_waiting" for name, _ in found)
    assert value(found, "callrouter_callbacks", state="requested") == 0
    assert value(found, "callrouter_webhook_seconds_count", path="/twilio/voice/incoming") == 0


# -- who may read them -----------------------------------------------------------------------------

def test_only_loopback_by_default_and_never_through_a_proxy_without_a_token(app: App) -> None:
    assert scrape(app, client=("::1", 40000)).status_code == 200
    assert scrape(app, client=("203.0.113.7", 40000)).status_code == 403  # the internet
    assert scrape(app, client=("10.0.0.5", 40000)).status_code == 403  # not on the list
    assert app.client.get("/metrics").status_code == 403  # no address at all ("testclient")
    proxied = scrape(app, headers={"X-Forwarded-For": "203.0.113.7"})
    assert proxied.status_code == 403 and "callrouter_" not in proxied.text
    assert scrape(app, headers={"Forwarded": "for=203.0.113.7"}).status_code == 403


def test_with_a_token_and_a_private_network(app_factory) -> None:  # noqa: ANN001
    app = app_factory(metrics_token=METRICS_TOKEN, metrics_allow_networks="127.0.0.0/8, 10.0.0.0/8")
    prometheus = ("10.1.2.3", 40000)
    missing = scrape(app, client=prometheus)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert scrape(app, client=prometheus, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert scrape(app, client=prometheus, headers={"Authorization": f"Basic {METRICS_TOKEN}"}).status_code == 401
    good = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    assert scrape(app, client=prometheus, headers=good).status_code == 200
    assert scrape(app, client=prometheus, headers={**good, "X-Forwarded-For": "10.9.9.9"}).status_code == 200
    assert scrape(app, client=("192.168.1.5", 40000), headers=good).status_code == 403  # the token is not enough
    assert scrape(app, client=("203.0.113.7", 40000), headers=good).status_code == 403


def test_production_serves_metrics_only_with_a_token(app_factory) -> None:  # noqa: ANN001
    secrets = {"environment": "production", "pseudonym_key": "a-real-pseudonym-key-of-32-characters",
               "api_tokens": "sha256:d05172eda7bf727e2ab967663a1331ba9276eb673f47a1ecd5588032812c8a58:admin:*",  # real-admin-token, hashed
               "twilio_auth_token": "a-real-twilio-auth-token-of-32-chars", "callback_number_key": "c" * 32}
    assert scrape(app_factory(**secrets)).status_code == 403
    app = app_factory(**secrets, metrics_token=METRICS_TOKEN)
    assert scrape(app, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200


def test_a_bad_allow_list_stops_start_up(app_factory) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="CALLROUTER_METRICS_ALLOW_NETWORKS"):
        app_factory(metrics_allow_networks="127.0.0.1/8,loopback")


# -- several processes -----------------------------------------------------------------------------

CHILD = """
import json, sys, uuid
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator
from callrouter.config import Settings
from callrouter.web.app import create_app

args = json.loads(sys.argv[1])
app = create_app(Settings(**args["settings"]))
path = "/twilio/voice/incoming"
with TestClient(app, client=("127.0.0.1", 40000)) as client:
    params = args["params"]
    signature = RequestValidator(args["auth_token"]).compute_signature(args["public_url"] + path, params)
    reply = client.post(path, data=params, headers={"X-Twilio-Signature": signature,
                                                    "I-Twilio-Idempotency-Token": uuid.uuid4().hex})
    assert reply.status_code == 200, reply.text
    print(client.get("/metrics").text)
"""


def test_multiprocess_mode_sums_the_histogram_of_every_process(app: App, tmp_path: Path) -> None:
    settings = app.container.settings
    multiproc_dir = tmp_path / "prometheus"
    multiproc_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir), "PYTHONWARNINGS": "ignore"}
    outputs = []
    for _ in range(2):  # two uvicorn workers, one after the other
        args = {"settings": {"database_url": settings.database_url, "redis_url": settings.redis_url,
                             "public_url": PUBLIC_URL, "twilio_auth_token": AUTH_TOKEN, "environment": "test"},
                "params": call_params(new_sid()), "auth_token": AUTH_TOKEN, "public_url": PUBLIC_URL}
        done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        outputs.append(samples(done.stdout))
    incoming = "/twilio/voice/incoming"
    assert value(outputs[0], "callrouter_webhook_seconds_count", path=incoming) == 1
    assert value(outputs[1], "callrouter_webhook_seconds_count", path=incoming) == 2  # both processes
    assert value(outputs[1], "callrouter_calls_waiting", organisation="UWV") == 0  # the live gauges too
    assert len(list(multiproc_dir.glob("histogram_*.db"))) == 2


def test_a_missing_multiprocess_directory_stops_start_up(app_factory, monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="PROMETHEUS_MULTIPROC_DIR"):
        app_factory()
