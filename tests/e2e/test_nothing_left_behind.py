"""Stopping `make run` while the demo day plays leaves no process behind, whether by Ctrl-C (SIGINT to the
process group) or the way a service manager stops it (SIGTERM to the group, SIGKILL one second later).

`scripts/run.sh` runs as `make run` does, on free loopback ports, against the test Redis (database 3; the
demo day then plays on database 14), a SQLite file and a state folder in a temporary directory. Every
process of the tree inherits CALLROUTER_TEST_TREE=<uuid>; the test scans /proc for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis as redis_lib

from callrouter.config import REPO_ROOT
from tests.servers import free_port

MARK = "CALLROUTER_TEST_TREE"
STOPPED_WITHIN = 8.0  # seconds from the (first) signal until no process of the tree is left
PLAYING_WITHIN = 150.0  # run.sh's set-up, honcho's processes, then the demo day's own stack


def tree_processes(marker: str) -> dict[int, str]:
    """pid -> command line of each live process (not a zombie) whose environment holds `marker`."""
    wanted = marker.encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if wanted not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if state != "Z":
            found[int(entry.name)] = cmdline
    return found


@dataclass
class Tree:
    proc: subprocess.Popen[bytes]
    marker: str
    var: Path
    output: Path

    def demo_day_log(self) -> str:
        path = self.var / "demo-day.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_playing(self) -> None:
        deadline = time.monotonic() + PLAYING_WITHIN
        while time.monotonic() < deadline:
            stack = [cmd for cmd in tree_processes(self.marker).values() if "callrouter.web.app:create_app" in cmd]
            if "demo day: playing" in self.demo_day_log() and len(stack) >= 2:  # make run's web and the day's
                return
            assert self.proc.poll() is None, f"run.sh exited with {self.proc.returncode}:\n{self.output.read_text()}"
            time.sleep(0.2)
        pytest.fail(f"the demo day did not start playing in {PLAYING_WITHIN:.0f} s:\n{self.output.read_text()}\n"
                    f"{self.demo_day_log()}")

    def wait_gone(self, since: float) -> float:
        """Seconds from `since` until no process of the tree is left; fails after STOPPED_WITHIN."""
        while time.monotonic() - since < STOPPED_WITHIN:
            if not tree_processes(self.marker):
                return time.monotonic() - since
            time.sleep(0.05)
        left = tree_processes(self.marker)
        pytest.fail(f"{len(left)} process(es) still running {STOPPED_WITHIN:.0f} s after the stop: "
                    + "; ".join(f"{pid}: {cmd[:120]}" for pid, cmd in left.items()))


@pytest.fixture()
def run_tree(redis_url: str, tmp_path: Path) -> Iterator[Tree]:
    base_url = redis_url.rsplit("/", 1)[0]
    service_redis = f"{base_url}/3"
    marker = f"{MARK}={uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CALLROUTER_") and k not in {"PORT", "EMULATOR_PORT", "OIDC_PORT", "DEMO_DAY",
                                                             "DEMO_HOURS", "DEMO_DAY_ARGS"}}
    env.update({
        MARK: marker.split("=", 1)[1],
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}",
        "PYTHONPATH": str(REPO_ROOT),  # this checkout's code also in the venv's console scripts
        "PORT": str(free_port()), "EMULATOR_PORT": str(free_port()), "OIDC_PORT": str(free_port()),
        "CALLROUTER_REDIS_URL": service_redis,
        "CALLROUTER_DATABASE_URL": f"sqlite:///{tmp_path / 'callrouter.sqlite3'}",
        "CALLROUTER_VAR_DIR": str(tmp_path / "var"),
        "DEMO_DAY_ARGS": "--calls 30",
    })
    output = tmp_path / "run.out"
    with output.open("wb") as out:
        proc = subprocess.Popen(["bash", "scripts/run.sh"], cwd=REPO_ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    tree = Tree(proc, marker, tmp_path / "var", output)
    try:
        yield tree
    finally:
        for pid in tree_processes(marker):  # a failed test leaves nothing either
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for db in (3, 14):
            conn = redis_lib.Redis.from_url(f"{base_url}/{db}")
            conn.flushdb()
            conn.close()


def test_ctrl_c_stops_make_run_and_its_demo_day_cleanly(run_tree: Tree) -> None:
    run_tree.wait_playing()
    since = time.monotonic()
    os.killpg(run_tree.proc.pid, signal.SIGINT)
    took = run_tree.wait_gone(since)
    run_tree.proc.wait(timeout=5)
    print(f"Ctrl-C: nothing left after {took:.1f} s")
    log = run_tree.demo_day_log()
    assert "demo day: stopped by SIGINT" in log, log
    assert "Traceback" not in log and "ConnectionError" not in log, log
    assert "Traceback" not in run_tree.output.read_text(errors="replace")


def test_sigterm_then_sigkill_leaves_no_orphan(run_tree: Tree) -> None:
    run_tree.wait_playing()
    since = time.monotonic()
    os.killpg(run_tree.proc.pid, signal.SIGTERM)
    time.sleep(1)
    try:
        os.killpg(run_tree.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group was gone within the second
    took = run_tree.wait_gone(since)
    print(f"SIGTERM + SIGKILL: nothing left after {took:.1f} s")
