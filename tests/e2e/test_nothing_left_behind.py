"""Stopping `make run` while the demo day plays leaves no process behind, whether by Ctrl-C (SIGINT to the
process group) or the way a service manager stops it (SIGTERM to the group, SIGKILL one second later).

`scripts/run.sh` runs as `make run` does, on free loopback ports, against a Redis of its own (the demo
day plays on its database 14), a SQLite file and a state folder in a temporary directory; the two trees
start at once. Every process of a tree inherits CALLROUTER_TEST_TREE=<uuid>; the test scans /proc for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis as redis_lib

from callrouter.config import REPO_ROOT
from callrouter.demo.day_stack import STACK_MARKER
from tests.servers import free_port

MARK = "CALLROUTER_TEST_TREE"
STOPPED_WITHIN = 8.0  # seconds from the (first) signal until no process of the tree is left
PLAYING_WITHIN = 120.0  # run.sh's set-up, honcho's processes, then the demo day's own stack


def tree_processes(marker: str, also: str = "") -> dict[int, str]:
    """pid -> command line of each live process (not a zombie) whose environment holds `marker` (and a
    variable named `also`, when given)."""
    wanted = marker.encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            if wanted not in environ or (also and not any(v.startswith(f"{also}=".encode()) for v in environ)):
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
            if "demo day: playing" in self.demo_day_log() and len(tree_processes(self.marker, STACK_MARKER)) >= 4:
                return  # the demo day's uvicorn (and its 2 workers) and its RQ worker are up
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


@contextmanager
def private_redis(workdir: Path) -> Iterator[str]:
    """A redis-server of this test's own: each tree's demo day flushes database 14 of its Redis."""
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir), "--loglevel", "warning"],
                            stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                redis_lib.Redis(port=port, socket_connect_timeout=0.5).ping()
                break
            except redis_lib.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def run_tree(workdir: Path) -> Iterator[Tree]:
    workdir.mkdir()
    marker = f"{MARK}={uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CALLROUTER_") and k not in {"PORT", "EMULATOR_PORT", "OIDC_PORT", "DEMO_DAY",
                                                             "DEMO_HOURS", "DEMO_DAY_ARGS"}}
    with private_redis(workdir) as redis_url:
        env.update({
            MARK: marker.split("=", 1)[1],
            "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}",
            "PYTHONPATH": str(REPO_ROOT),  # this checkout's code also in the venv's console scripts
            "PORT": str(free_port()), "EMULATOR_PORT": str(free_port()), "OIDC_PORT": str(free_port()),
            "CALLROUTER_REDIS_URL": redis_url,
            "CALLROUTER_DATABASE_URL": f"sqlite:///{workdir / 'callrouter.sqlite3'}",
            "CALLROUTER_VAR_DIR": str(workdir / "var"),
            "DEMO_HOURS": "real",  # one set-up step less; the demo day plays a weekday in opening hours
            "DEMO_DAY_ARGS": "--calls 30",
        })
        output = workdir / "run.out"
        with output.open("wb") as out:
            proc = subprocess.Popen(["bash", "scripts/run.sh"], cwd=REPO_ROOT, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        tree = Tree(proc, marker, workdir / "var", output)
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


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Tree]]:
    """Both trees start at once (the set-up is most of the time): one for each way of stopping."""
    workdir = tmp_path_factory.mktemp("make-run")
    with run_tree(workdir / "ctrl-c") as ctrl_c, run_tree(workdir / "term-kill") as term_kill:
        yield {"ctrl-c": ctrl_c, "term-kill": term_kill}


def test_ctrl_c_stops_make_run_and_its_demo_day_cleanly(trees: dict[str, Tree]) -> None:
    run_tree = trees["ctrl-c"]
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


def test_sigterm_then_sigkill_leaves_no_orphan(trees: dict[str, Tree]) -> None:
    run_tree = trees["term-kill"]
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
