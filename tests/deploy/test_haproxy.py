"""deploy/haproxy/callrouter.cfg in front of two web backends started with the ExecStart of
deploy/systemd/callrouter-web.service, all on loopback: `haproxy -c`, balancing, a killed backend taken
out, the client address from X-Forwarded-For only through the trusted proxy, X-Forwarded-Proto, and a
signed Twilio webhook through the proxy (the signature is over the public https URL).

Loopback addresses stand for machines: the client connects from 127.0.0.3, HAProxy connects to the
backends from 127.0.0.2 (its `source`), which the backends trust (--forwarded-allow-ips); the test
itself talks to a backend directly from 127.0.0.1, which they do not trust.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from twilio.request_validator import RequestValidator

from callrouter.adapters.sql.migrate import upgrade
from callrouter.config import REPO_ROOT
from callrouter.demo.day_stack import wait_healthy
from tests.deploy.test_systemd_units import INSTALL, exec_start
from tests.servers import free_port

CONFIG = REPO_ROOT / "deploy" / "haproxy" / "callrouter.cfg"
CLIENT, PROXY = "127.0.0.3", "127.0.0.2"
TOKEN = "test-auth-token-haproxy"

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None,
                                reason="haproxy is not installed: make deps (apt-get install haproxy)")


@dataclass
class Backend:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def lines(self, needle: str) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if needle in line]


@dataclass
class Proxied:
    url: str
    http_url: str
    cert: Path
    socket: Path
    backends: list[Backend]

    def client(self) -> httpx.Client:
        trust = ssl.create_default_context(cafile=str(self.cert))
        return httpx.Client(base_url=self.url, verify=trust, timeout=10,
                            transport=httpx.HTTPTransport(local_address=CLIENT, verify=trust))

    def server_status(self) -> dict[str, str]:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.socket))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        rows = [line.split(",") for line in data.decode().splitlines() if line and not line.startswith("#")]
        return {row[1]: row[17] for row in rows if row[0] == "callrouter_web" and row[1].startswith("web")}


def make_cert(workdir: Path) -> Path:
    key, crt, pem = workdir / "key.pem", workdir / "crt.pem", workdir / "haproxy.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    pem.write_bytes(crt.read_bytes() + key.read_bytes())
    return pem


def haproxy_env(*, cert: Path, sock: Path, https_port: int, http_port: int, web_ports: list[int]) -> dict[str, str]:
    return {**os.environ, "CALLROUTER_HAPROXY_CERT": str(cert), "CALLROUTER_HAPROXY_SOCKET": str(sock),
            "CALLROUTER_HAPROXY_HTTPS_BIND": f"127.0.0.1:{https_port}",
            "CALLROUTER_HAPROXY_HTTP_BIND": f"127.0.0.1:{http_port}", "CALLROUTER_HAPROXY_SOURCE": PROXY,
            **{f"CALLROUTER_WEB{i}": f"127.0.0.1:{port}" for i, port in enumerate(web_ports, 1)}}


def backend_command(port: int) -> list[str]:
    """The unit's ExecStart, its ${VARS} filled in as systemd would from the settings file."""
    values = {"CALLROUTER_BIND_HOST": "127.0.0.1", "CALLROUTER_BIND_PORT": str(port), "CALLROUTER_WEB_WORKERS": "1",
              "CALLROUTER_TRUSTED_PROXIES": PROXY}
    argv = [re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], arg) for arg in exec_start("callrouter-web.service")]
    return [argv[0].replace(f"{INSTALL}/.venv", sys.prefix), *argv[1:]]


@pytest.fixture(scope="module")
def proxied(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    workdir = tmp_path_factory.mktemp("haproxy")
    database_url = f"sqlite:///{workdir / 'callrouter.sqlite3'}"
    upgrade(database_url)
    cert = make_cert(workdir)
    https_port, http_port = free_port(), free_port()
    public_url = f"https://127.0.0.1:{https_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALLROUTER_", "PROMETHEUS_"))}
    env.update({"CALLROUTER_ENVIRONMENT": "test", "CALLROUTER_DATABASE_URL": database_url,
                "CALLROUTER_REDIS_URL": redis_url, "CALLROUTER_PUBLIC_URL": public_url,
                "CALLROUTER_TWILIO_AUTH_TOKEN": TOKEN, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"})
    backends: list[Backend] = []
    haproxy: subprocess.Popen[bytes] | None = None
    try:
        for name in ("web1", "web2"):
            port = free_port()
            log = workdir / f"{name}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(backend_command(port), cwd=REPO_ROOT, env=env, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            backends.append(Backend(name, port, proc, log))
        for backend in backends:
            wait_healthy(f"http://127.0.0.1:{backend.port}", backend.proc, what=backend.name, timeout=60)
        sock = workdir / "haproxy.sock"
        hp_env = haproxy_env(cert=cert, sock=sock, https_port=https_port, http_port=http_port,
                             web_ports=[b.port for b in backends])
        haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(CONFIG)], env=hp_env,
                                   stdout=(workdir / "haproxy.log").open("wb"), stderr=subprocess.STDOUT)
        proxied = Proxied(public_url, f"http://127.0.0.1:{http_port}", cert.with_name("crt.pem"), sock, backends)
        deadline = time.monotonic() + 20
        while True:
            try:
                if sock.exists() and set(proxied.server_status().values()) == {"UP"}:
                    break
            except OSError:
                pass
            assert haproxy.poll() is None, (workdir / "haproxy.log").read_text()
            assert time.monotonic() < deadline, f"backends not UP in haproxy: {(workdir / 'haproxy.log').read_text()}"
            time.sleep(0.1)
        yield proxied
    finally:
        if haproxy is not None:
            haproxy.terminate()
            haproxy.wait(timeout=10)
        for backend in backends:
            if backend.proc.poll() is None:
                os.killpg(backend.proc.pid, signal.SIGTERM)
                backend.proc.wait(timeout=15)


def test_the_configuration_is_valid(tmp_path: Path) -> None:
    env = haproxy_env(cert=make_cert(tmp_path), sock=tmp_path / "s.sock", https_port=free_port(),
                      http_port=free_port(), web_ports=[free_port(), free_port()])
    result = subprocess.run(["haproxy", "-c", "-f", str(CONFIG)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_requests_are_balanced_over_the_backends(proxied: Proxied) -> None:
    with proxied.client() as client:
        for n in range(20):
            assert client.get(f"/healthz?probe=balance-{n}").status_code == 200
    time.sleep(0.3)  # the access log line follows the response
    counts = [len(b.lines("probe=balance-")) for b in proxied.backends]
    assert counts == [10, 10], counts  # roundrobin


def test_the_client_address_comes_from_the_trusted_proxy_only(proxied: Proxied) -> None:
    """Through HAProxy the backend logs the client's own address (X-Forwarded-For, trusted from the proxy's
    address); a client's own X-Forwarded-For is replaced by HAProxy, and ignored by a backend when the
    request does not come from the proxy."""
    with proxied.client() as client:
        for n in range(2):
            client.get(f"/healthz?probe=xff-{n}", headers={"X-Forwarded-For": "203.0.113.9"})
    direct = httpx.get(f"http://127.0.0.1:{proxied.backends[0].port}/healthz?probe=direct",
                       headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}, timeout=10)
    assert direct.status_code == 200
    time.sleep(0.3)
    proxied_lines = [line for b in proxied.backends for line in b.lines("probe=xff-")]
    assert len(proxied_lines) == 2 and all(f"{CLIENT}:" in line for line in proxied_lines), proxied_lines
    assert not any("203.0.113.9" in line for b in proxied.backends for line in b.lines("probe="))
    [direct_line] = proxied.backends[0].lines("probe=direct")
    assert "127.0.0.1:" in direct_line, direct_line


def test_the_backends_see_https_and_metrics_are_not_proxied(proxied: Proxied) -> None:
    """X-Forwarded-Proto: https, so an absolute URL the app builds (a trailing-slash redirect) is https."""
    with proxied.client() as client:
        redirect = client.get("/staff", follow_redirects=False)
        assert redirect.status_code in (301, 302, 307, 308), redirect.status_code
        assert redirect.headers["location"].startswith("https://127.0.0.1:"), redirect.headers["location"]
        assert client.get("/metrics").status_code == 404
    plain = httpx.get(f"{proxied.http_url}/staff/", timeout=10)  # port 80's frontend only redirects
    assert plain.status_code == 301 and plain.headers["location"].startswith("https://"), plain.headers


def test_a_signed_webhook_passes_through_the_proxy(proxied: Proxied) -> None:
    validator = RequestValidator(TOKEN)
    path = "/twilio/voice/incoming"
    params = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": "CA" + "1" * 32,
              "CallStatus": "ringing", "Direction": "inbound", "From": "+31612345678", "To": "+31850009999",
              "Caller": "+31612345678", "Called": "+31850009999"}
    with proxied.client() as client:
        signed = client.post(path, data=params,
                             headers={"X-Twilio-Signature": validator.compute_signature(proxied.url + path, params)})
        assert signed.status_code == 200, signed.text
        assert signed.headers["content-type"].startswith("application/xml") and "<Response>" in signed.text
        backend_url = f"http://127.0.0.1:{proxied.backends[0].port}{path}"
        wrong_url = client.post(path, data={**params, "CallSid": "CA" + "2" * 32},
                                headers={"X-Twilio-Signature": validator.compute_signature(backend_url, params)})
        assert wrong_url.status_code == 403
        assert client.post(path, data=params).status_code == 403  # unsigned


def test_a_killed_backend_is_taken_out_within_seconds(proxied: Proxied) -> None:
    """Runs last: web2 is killed outright; HAProxy marks it DOWN within a few seconds, and meanwhile no
    request fails (a refused connection is retried on web1)."""
    victim = proxied.backends[1]
    os.killpg(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait(timeout=10)
    killed = time.monotonic()
    failures = 0
    with proxied.client() as client:
        while proxied.server_status()["web2"] != "DOWN" or time.monotonic() - killed < 0.5:
            assert time.monotonic() - killed < 5, proxied.server_status()
            failures += client.get("/healthz?probe=after-kill").status_code != 200
            time.sleep(0.05)
        took = time.monotonic() - killed
        for n in range(6):
            assert client.get(f"/healthz?probe=only-web1-{n}").status_code == 200
    time.sleep(0.3)
    assert failures == 0
    assert len(proxied.backends[0].lines("probe=only-web1-")) == 6
    assert proxied.server_status() == {"web1": "UP", "web2": "DOWN"}
    print(f"web2 DOWN in HAProxy {took:.1f} s after the kill")
