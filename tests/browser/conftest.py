"""Browser tests: the app served by uvicorn on 127.0.0.1, the local OpenID provider, headless Chromium
(Debian's /usr/bin/chromium, driven by Playwright; never `playwright install`)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from twilio.request_validator import RequestValidator

from callrouter.bootstrap import Container, build
from callrouter.config import Settings
from callrouter.domain.staff import Grant, Role
from callrouter.web.app import create_app
from tests.integration.conftest import RecordingTelephony, directory_database, flows_with_case_reference
from tests.servers import free_port
from tests.staff_login import oidc_provider, provider_entry

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
AUTH_TOKEN = "browser-auth-token"


@pytest.fixture()
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite only: the browser tests are about the pages; the SQL is covered in tests/integration."""
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'browser.sqlite3'}"


@pytest.fixture(scope="session")
def issuer() -> Iterator[str]:
    with oidc_provider() as url:
        yield url


@dataclasses.dataclass
class Live:
    url: str
    container: Container
    telephony: RecordingTelephony
    issuer: str

    def liaison_id(self, code: str) -> int:
        found = self.container.directory.liaison_by_code(code)
        assert found is not None
        return found.id

    def grant_liaison(self, subject: str, org: str, code: str) -> None:
        from datetime import UTC, datetime

        self.container_accounts().grant(issuer=self.issuer, subject=subject, by="test", at=datetime.now(UTC),
                                        grant=Grant(Role.LIAISON, org, self.liaison_id(code)))

    def container_accounts(self):  # type: ignore[no-untyped-def]
        from callrouter.adapters.sql.staff_repository import SqlStaffAccounts

        return SqlStaffAccounts(self.container.sessions)

    def webhook(self, path: str, params: dict[str, str]) -> httpx.Response:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(self.url + path, params)
        response = httpx.post(self.url + path, data=params, timeout=10,
                              headers={"X-Twilio-Signature": signature, "I-Twilio-Idempotency-Token": str(time.time())})
        assert response.status_code == 200, response.text
        return response


@pytest.fixture()
def live(database_url: str, redis, redis_url: str, tmp_path: Path, issuer: str) -> Iterator[Live]:  # noqa: ANN001
    directory_database(database_url, tmp_path, open_all_hours=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(database_url=database_url, redis_url=redis_url, public_url=url, twilio_auth_token=AUTH_TOKEN,
                        environment="test", directory_cache_seconds=0, staff_poll_seconds=2,
                        oidc_providers=json.dumps([provider_entry(issuer, key="rijk", label="Rijks-inlog")]))
    container = build(settings)
    telephony = RecordingTelephony()
    container.voice = dataclasses.replace(container.voice, telephony=telephony,
                                          flows=flows_with_case_reference(container.voice.flows, False))
    server = uvicorn.Server(uvicorn.Config(create_app(settings, container), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield Live(url, container, telephony, issuer)
    server.should_exit = True
    thread.join(10)
    container.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make deps (Debian package chromium) installs it")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.csp_errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()
