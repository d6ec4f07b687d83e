"""The production edge: API docs only outside production and only from this host's own files, HSTS on
https, /.well-known/security.txt from the settings. The app is built on settings alone (no request here
reaches Redis or the database)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from callrouter.config import Settings
from callrouter.web.app import create_app

WEB = Path(__file__).resolve().parents[2] / "callrouter" / "web"
PUBLIC_URL = "https://bel.example.nl"
PRODUCTION = {"environment": "production", "twilio_auth_token": "t" * 32, "pseudonym_key": "p" * 32,
              "api_tokens": "sha256:" + hashlib.sha256(b"a" * 40).hexdigest() + ":admin:*", "callback_number_key": "c" * 32}
# A resource the browser loads by itself: an attribute or CSS url()/@import pointing at another host.
HTML_LOAD = re.compile(r"""\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", re.I)
CSS_LOAD = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])\s*((?:https?:)?//[^"')\s]+)""", re.I)
JS_LOAD = re.compile(r"""\bsrc\s*[:=]\s*["'`]((?:https?:)?//[^"'`]+)""")
CDN_URL = re.compile(r"""["'`](?:https?:)?//[^"'`/]*(?:cdn\.|jsdelivr|unpkg|googleapis|gstatic|cdnjs)[^"'`]*""")


def app(tmp_path: Path, **overrides: object) -> TestClient:
    values: dict[str, object] = {"environment": "test", "database_url": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                                 "redis_url": "redis://127.0.0.1:1/0", "public_url": PUBLIC_URL, **overrides}
    return TestClient(create_app(Settings(**values)))


def external_loads(text: str, *, kind: str) -> list[str]:
    if kind == "js":
        return JS_LOAD.findall(text) + CDN_URL.findall(text)
    found = CSS_LOAD.findall(text)
    if kind == "html":
        found += HTML_LOAD.findall(text)
    return found


def test_docs_are_served_outside_production_from_vendored_files_only(tmp_path: Path) -> None:
    client = app(tmp_path)
    assert client.get("/openapi.json").json()["info"]["title"] == "callrouter"
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert external_loads(response.text, kind="html") == [], page
        assets = re.findall(r"""(?:src|href)="(/staff/static/[^"]+)""", response.text)
        assert assets, page
        for asset in assets:
            loaded = client.get(asset)
            assert loaded.status_code == 200, asset
            kind = "css" if asset.endswith(".css") else "js" if asset.endswith(".js") else "binary"
            if kind != "binary":
                assert external_loads(loaded.text, kind=kind) == [], asset
    assert "validatorUrl" in client.get("/docs").text  # no badge from validator.swagger.io


def test_no_page_template_or_static_file_loads_from_another_host() -> None:
    files = [p for p in WEB.rglob("*") if p.suffix in (".html", ".css", ".js")]
    assert len(files) > 20
    found = {}
    for path in files:
        kind = path.suffix.lstrip(".")
        loads = external_loads(path.read_text(errors="replace"), kind=kind)
        if loads:
            found[str(path.relative_to(WEB))] = loads
    assert found == {}


def test_production_serves_no_docs_and_no_schema(tmp_path: Path) -> None:
    client = app(tmp_path, **PRODUCTION)
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path
    opted_in = app(tmp_path, **PRODUCTION, api_docs=True)
    assert opted_in.get("/openapi.json").status_code == 200


def test_hsts_on_an_https_public_url_only(tmp_path: Path) -> None:
    secure = app(tmp_path).get("/.well-known/security.txt")
    assert secure.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert "strict-transport-security" in app(tmp_path).get("/docs").headers
    plain = app(tmp_path, public_url="http://127.0.0.1:8000").get("/docs")
    assert "strict-transport-security" not in plain.headers
    off = app(tmp_path, hsts_max_age_seconds=0).get("/docs")
    assert "strict-transport-security" not in off.headers


def test_security_txt_from_the_settings(tmp_path: Path) -> None:
    assert app(tmp_path).get("/.well-known/security.txt").status_code == 404
    client = app(tmp_path, security_contact="mailto:security@example.nl, https://example.nl/melden",
                 security_expires="2027-06-30T00:00:00+02:00", security_policy_url="https://example.nl/cvd")
    response = client.get("/.well-known/security.txt")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert response.text.splitlines() == [
        "Contact: mailto:security@example.nl", "Contact: https://example.nl/melden",
        "Expires: 2027-06-29T22:00:00Z", "Policy: https://example.nl/cvd", "Preferred-Languages: nl, en",
        "Canonical: https://bel.example.nl/.well-known/security.txt"]
    with pytest.raises(ValueError, match="CALLROUTER_SECURITY_EXPIRES"):
        Settings(security_contact="mailto:security@example.nl")
    assert Settings(security_contact="mailto:s@example.nl",
                    security_expires=datetime(2027, 1, 1)).security_expires == datetime(2027, 1, 1, tzinfo=UTC)


def test_production_logs_what_it_only_warns_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="callrouter")
    app(tmp_path, **PRODUCTION, redis_url="redis://redis.internal:6379/0", allow_plain_redis=True)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("CALLROUTER_REDIS_URL" in message for message in warned)
    assert any("CALLROUTER_SECURITY_CONTACT" in message for message in warned)
