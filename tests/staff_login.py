"""Helpers for staff login tests: the local OpenID provider as a process, and a login through it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def oidc_provider() -> Iterator[str]:
    """Start tests/oidc_provider.py on a free loopback port; yields its issuer URL."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.oidc_provider", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        issuer = proc.stdout.readline().strip()
        if not issuer.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the OpenID provider did not start (exit {proc.poll()})")
        yield issuer
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def provider_entry(issuer: str, *, key: str, label: str, client_id: str = "callrouter") -> dict[str, str]:
    return {"key": key, "label": label, "issuer": issuer, "client_id": client_id, "client_secret": "test-secret"}


def authorize(authorization_url: str, subject: str) -> str:
    """What a person does at the provider: choose the account; returns the callback URL it redirects to."""
    response = httpx.post(authorization_url, data={"sub": subject}, follow_redirects=False, timeout=10)
    assert response.status_code in (302, 303), response.text[:500]
    return response.headers["location"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def tamper_next_token(issuer: str, *, claims: dict[str, object] | None = None, other_key: bool = False) -> None:
    httpx.post(f"{issuer}/_control/tamper", json={"claims": claims or {}, "other_key": other_key},
               timeout=10).raise_for_status()
