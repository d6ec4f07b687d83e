"""The systemd units in deploy/systemd: `systemd-analyze verify` (when it is installed) on copies whose
/opt/callrouter paths point at this checkout and its venv, and a parse of each unit checking what
systemd cannot: the commands exist and run, the hardening and the settings file are there, uvicorn
takes proxy headers from the proxy only."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from callrouter.config import REPO_ROOT

UNITS = REPO_ROOT / "deploy" / "systemd"
NAMES = ("callrouter-web.service", "callrouter-worker.service", "callrouter-cron.service")
INSTALL = "/opt/callrouter"
HARDENING = {"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
             "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "", "UMask": "0077"}


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """section -> key -> values (a key may repeat), continuation lines joined."""
    text = (UNITS / name).read_text().replace("\\\n", " ")
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def exec_start(name: str) -> list[str]:
    [command] = unit(name)["Service"]["ExecStart"]
    return shlex.split(command)


def local_copy(name: str, into: Path) -> Path:
    """The unit with /opt/callrouter/.venv -> this venv and /opt/callrouter -> this checkout."""
    text = (UNITS / name).read_text()
    text = text.replace(f"{INSTALL}/.venv", sys.prefix).replace(INSTALL, str(REPO_ROOT))
    path = into / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", NAMES)
def test_each_unit_is_hardened_and_reads_the_settings_file(name: str) -> None:
    service = unit(name)["Service"]
    assert service["EnvironmentFile"] == ["/etc/callrouter/callrouter.env"]
    assert service["WorkingDirectory"] == [INSTALL]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], (name, key)
    assert service["Restart"] == ["on-failure"]
    assert unit(name)["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.parametrize("name", NAMES)
def test_each_command_exists_in_the_venv_and_accepts_its_options(name: str) -> None:
    """The ExecStart program is a console script of the venv, and its options are ones it knows: run
    with --help (uvicorn, rq worker, rq cron all list their options there)."""
    argv = exec_start(name)
    program = Path(argv[0])
    assert program.parent == Path(f"{INSTALL}/.venv/bin"), argv[0]
    local = Path(sys.prefix) / "bin" / program.name
    assert local.is_file(), f"{program.name} is not in the venv"
    subcommand = [a for a in argv[1:3] if a in {"worker", "cron"}]
    listed = subprocess.run([str(local), *subcommand, "--help"], capture_output=True, text=True, timeout=60,
                            cwd=REPO_ROOT).stdout
    for option in (a.split("=", 1)[0] for a in argv[1:] if a.startswith("--")):
        assert option in listed, f"{name}: {program.name} {' '.join(subcommand)} has no option {option}"
    for path in (a for a in argv[1:] if a.endswith(".py")):
        assert (REPO_ROOT / path).is_file(), f"{name}: {path} (relative to WorkingDirectory) does not exist"


def test_uvicorn_takes_proxy_headers_from_the_proxy_only() -> None:
    argv = exec_start("callrouter-web.service")
    service = unit("callrouter-web.service")["Service"]
    assert "--proxy-headers" in argv
    trusted = argv[argv.index("--forwarded-allow-ips") + 1]
    assert trusted == "${CALLROUTER_TRUSTED_PROXIES}"
    assert "Environment" in service and "CALLROUTER_TRUSTED_PROXIES=127.0.0.1" in service["Environment"]
    example = (UNITS / "callrouter.env.example").read_text()
    proxies = next(line.split("=", 1)[1] for line in example.splitlines() if line.startswith("CALLROUTER_TRUSTED_PROXIES="))
    assert "*" not in proxies and proxies
    assert "PROMETHEUS_MULTIPROC_DIR=/run/callrouter-web" in service["Environment"]
    assert service["RuntimeDirectory"] == ["callrouter-web"]  # emptied at each start, as multiprocess mode needs


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    copies = [str(local_copy(name, tmp_path)) for name in NAMES]
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *copies], capture_output=True, text=True,
                            timeout=120)
    # Only what concerns our units counts: a container's own unit files may draw warnings of their own.
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "callrouter" in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr
