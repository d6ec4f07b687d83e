"""Staff login fixtures shared by the integration tests: two local OpenID providers and a logged-in client."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callrouter.domain.staff import Grant, Role
from tests.integration.conftest import PUBLIC_URL, App
from tests.staff_login import authorize, oidc_provider, provider_entry


@pytest.fixture(scope="module")
def issuers() -> Iterator[tuple[str, str]]:
    with oidc_provider() as first, oidc_provider() as second:
        yield first, second


@dataclass
class Staff:
    app: App
    client: TestClient
    issuers: tuple[str, str]

    @property
    def web(self) -> Any:
        return self.app.client.app.state.staff  # type: ignore[attr-defined]

    def liaison_id(self, code: str) -> int:
        found = self.app.container.directory.liaison_by_code(code)
        assert found is not None
        return found.id

    def grant_liaison(self, subject: str, org: str, code: str, *, issuer: int = 0) -> None:
        self.web.accounts.grant(issuer=self.issuers[issuer], subject=subject,
                                grant=Grant(Role.LIAISON, org, self.liaison_id(code)), by="test", at=datetime.now(UTC))

    def start(self, key: str = "rijk") -> str:
        response = self.client.get(f"/staff/inloggen/{key}", follow_redirects=False)
        assert response.status_code == 303
        return response.headers["location"]

    def callback(self, callback_url: str) -> Any:
        assert callback_url.startswith(PUBLIC_URL)
        return self.client.get(callback_url[len(PUBLIC_URL):], follow_redirects=False)

    def login(self, subject: str, key: str = "rijk") -> Any:
        response = self.callback(authorize(self.start(key), subject))
        assert response.status_code == 303, response.text[:300]
        return response

    def session_keys(self) -> list[bytes]:
        return list(self.app.container.redis.scan_iter("callrouter:staff:session:*"))

    def csrf(self, path: str = "/staff/console") -> str:
        found = re.search(r'name="csrf-token" content="([^"]+)"', self.client.get(path).text)
        assert found
        return found.group(1)

    def presence(self, code: str) -> str:
        return self.client.app.state.container.router.liaison_status(  # type: ignore[attr-defined]
            liaison_id=self.liaison_id(code), org=code.split("-")[0].upper()) or "offline"


@pytest.fixture()
def staff(app_factory, issuers: tuple[str, str]) -> Staff:  # noqa: ANN001
    providers = [provider_entry(issuers[0], key="rijk", label="Rijks-inlog"),
                 provider_entry(issuers[1], key="tweede", label="Tweede inlogdienst")]
    app = app_factory(oidc_providers=json.dumps(providers))
    client = TestClient(app.client.app, base_url=PUBLIC_URL)  # https: the session cookie is Secure
    return Staff(app, client, issuers)


