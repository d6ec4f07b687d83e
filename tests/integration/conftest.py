from __future__ import annotations

import dataclasses
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.directory_import import import_directory
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import upgrade
from callrouter.bootstrap import Container, build
from callrouter.config import Settings
from callrouter.domain.call_flow import Goto
from callrouter.web.app import create_app
from callrouter.web.voice_paths import path_of
from tests import database_templates
from tests.e2e.stack import FAST_PINS, open_all_hours_directory

PUBLIC_URL = "https://callrouter.example.nl"
AUTH_TOKEN = "integration-auth-token"
ADMIN_TOKEN = "admin-token"
UWV_TOKEN = "uwv-liaison-token"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TURN = re.compile(r"^/turn/[^/]+")


class FixedClock:
    def __init__(self, moment: datetime):
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


class RecordingTelephony:
    """Stands in for Twilio's REST API: records the redirects the service asks for."""

    def __init__(self) -> None:
        self.redirects: list[tuple[str, str]] = []
        self.created: list[dict[str, object]] = []
        self.hung_up: list[str] = []
        self.holds: list[tuple[str, str, bool]] = []
        self.room_ends: list[tuple[str, str, bool]] = []

    def redirect(self, *, call_sid: str, to: Goto) -> None:
        self.redirects.append((call_sid, path_of(to)))

    def create_call(self, *, to: str, from_: str, answer: Goto, status: Goto, timeout: int) -> str:
        self.created.append({"to": to, "from": from_, "path": path_of(answer), "status_path": path_of(status)})
        return f"CA{len(self.created):032d}"

    def leg_status(self, *, call_sid: str) -> None:
        return None  # nothing here knows how a call stands at the network

    def hang_up(self, *, call_sid: str) -> None:
        self.hung_up.append(call_sid)

    def hold_member(self, *, room_sid: str, member: str, hold: bool, music: Goto | None = None) -> None:
        self.holds.append((room_sid, member, hold))

    def set_member_ends_room(self, *, room_sid: str, member: str, ends: bool) -> None:
        self.room_ends.append((room_sid, member, ends))


@dataclasses.dataclass
class App:
    client: TestClient
    container: Container
    clock: FixedClock
    validator: RequestValidator
    telephony: RecordingTelephony
    # As Twilio does: the next request of a call goes to the URL (with its turn) the last TwiML gave.
    handed_out: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    sent_with_token: dict[str, str] = dataclasses.field(default_factory=dict)

    def post(self, path: str, params: dict[str, str], *, signed: bool = True, token: str | None = None,
             signature: str | None = None, idempotency: str | None = None):  # type: ignore[no-untyped-def]
        """POST a webhook of the call params["CallSid"] to `path` ('/twilio/voice/pin'): to the URL with the
        turn the service handed out for it, if any; a retry (an `idempotency` token sent before) to the
        same URL as its first delivery."""
        if idempotency is not None and idempotency in self.sent_with_token:
            path = self.sent_with_token[idempotency]
        elif signature is None:
            path = self.handed_out.get((params.get("CallSid", ""), path), path)
        if idempotency is not None:
            self.sent_with_token.setdefault(idempotency, path)
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = signature or self.validator.compute_signature(PUBLIC_URL + path, params)
        # Twilio gives every webhook request a new token, and a retry the same one.
        headers["I-Twilio-Idempotency-Token"] = idempotency or uuid.uuid4().hex
        response = self.client.post(path, data=params, headers=headers)
        self._remember_turns(params.get("CallSid", ""), response)
        return response

    def _remember_turns(self, call_sid: str, response) -> None:  # type: ignore[no-untyped-def]
        if response.status_code != 200 or not response.headers.get("content-type", "").startswith("application/xml"):
            return
        try:
            root = ET.fromstring(response.text)
        except ET.ParseError:
            return
        urls = [el.get("action", "") for el in root.iter("Gather")] + [el.text or "" for el in root.iter("Redirect")]
        for url in urls:
            if url.startswith(PUBLIC_URL):
                full = url[len(PUBLIC_URL):]
                self.handed_out[(call_sid, TURN.sub("", full))] = full

    def api(self, method: str, path: str, token: str | None = ADMIN_TOKEN, **kwargs):  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.request(method, path, headers=headers, **kwargs)


def flows_with_case_reference(flows: dict, on: bool) -> dict:  # type: ignore[type-arg]
    """The demo flows asks for a case reference after identification (tests/integration/test_cases*.py);
    other tests go straight to the organisation menu unless they ask for it."""
    return {kind: dataclasses.replace(flow, case_reference=flow.case_reference and on) for kind, flow in flows.items()}


@pytest.fixture()
def calls(database_url: str) -> Iterator[SqlCallStore]:
    """The call record on a fresh, migrated database (test_call_moves.py, test_one_call_per_liaison.py)."""
    database_templates.prepare(database_url, contents="migrated", build=upgrade)
    engine = make_engine(database_url)
    yield SqlCallStore(make_session_factory(engine))
    engine.dispose()


def directory_database(url: str, workdir: Path, *, open_all_hours: bool) -> None:
    """The migrations at head and the directory imported: copied from a template made once per test process
    when the database is empty (tests/database_templates.py), else migrated and imported on it."""
    def build(target: str) -> None:
        upgrade(target)
        engine = make_engine(target)
        path = open_all_hours_directory(workdir / "dir.yaml") if open_all_hours else Path("demo/directory.yaml")
        import_directory(path=path, session_factory=make_session_factory(engine), hasher=FAST_PINS)
        engine.dispose()

    database_templates.prepare(url, contents="open-all-hours" if open_all_hours else "demo", build=build)


@pytest.fixture()
def app_factory(database_url: str, redis, redis_url: str, tmp_path: Path) -> Iterator:  # noqa: ANN001
    """Build the app in-process on a real database and Redis, with a fixed clock."""
    built: list[App] = []

    def make(*, moment: datetime | None = None, open_all_hours: bool = True, case_reference: bool = False,
             **overrides: object) -> App:
        directory_database(database_url, tmp_path, open_all_hours=open_all_hours)
        values: dict[str, object] = {
            "database_url": database_url, "redis_url": redis_url, "public_url": PUBLIC_URL,
            "twilio_auth_token": AUTH_TOKEN, "environment": "test", "directory_cache_seconds": 0,
            "api_tokens": f"{ADMIN_TOKEN}:admin:*,{UWV_TOKEN}:liaison:UWV:uwv-jan", **overrides}
        settings = Settings(**values)
        container = build(settings)
        clock = FixedClock(moment or datetime(2026, 11, 25, 10, 0, tzinfo=AMSTERDAM))  # a Wednesday
        telephony = RecordingTelephony()
        container.voice = dataclasses.replace(container.voice, clock=clock, telephony=telephony,
                                              flows=flows_with_case_reference(container.voice.flows, case_reference))
        app = App(TestClient(create_app(settings, container)), container, clock, RequestValidator(AUTH_TOKEN),
                  telephony)
        built.append(app)
        return app

    yield make
    for app in built:
        app.client.close()
        app.container.close()


@pytest.fixture()
def app(app_factory) -> App:  # noqa: ANN001
    return app_factory()


from tests.integration.staff_fixtures import issuers, staff  # noqa: E402,F401 - shared fixtures
