"""A lifeline: when its parent dies, in whatever way (SIGKILL included), end every process that carries
a marker in its environment, so nothing of a local stack is left behind.

    python -m callrouter.demo.lifeline --parent PID --marker NAME=VALUE [--grace SECONDS]

It runs in a session of its own (signals to the parent's process group do not reach it) and asks the
kernel for SIGTERM when its parent exits (prctl PR_SET_PDEATHSIG). Then it scans /proc for processes
whose environment has NAME=VALUE (children inherit it, whatever session they run in: honcho's
processes, uvicorn's workers, RQ's scheduler), sends them SIGTERM, and SIGKILL to those still there
after the grace time. `make run` (scripts/run.sh) and the demo day's stack (demo/day_stack.py) each
start one; Linux only. A stray SIGTERM while the parent still lives ends the lifeline without a sweep.

Standard library only: it must start fast and import nothing of the service.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

PR_SET_PDEATHSIG = 1
WATCHED = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT}


def marked(marker: bytes, *, exclude: Iterable[int] = ()) -> list[int]:
    """The live processes (zombies have no environment) whose environment holds `marker` (b"NAME=VALUE")."""
    skip = {os.getpid(), *exclude}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def sweep(marker: bytes, *, grace: float, exclude: Iterable[int] = ()) -> list[int]:
    """SIGTERM to every marked process (again to any that appears meanwhile), SIGKILL to those left after
    `grace` seconds; returns the pids that had to be killed."""
    deadline = time.monotonic() + grace
    signalled: set[int] = set()
    while time.monotonic() < deadline:
        left = marked(marker, exclude=exclude)
        if not left:
            return []
        for pid in set(left) - signalled:
            _signal(pid, signal.SIGTERM)
            signalled.add(pid)
        time.sleep(0.05)
    killed = marked(marker, exclude=exclude)
    for pid in killed:
        _signal(pid, signal.SIGKILL)
    return killed


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def watch(*, parent: int, marker: bytes, grace: float) -> int:
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)  # before prctl: no death signal can be lost
    try:
        os.setsid()
    except PermissionError:  # already a session leader (started with start_new_session=True)
        pass
    _die_with_parent()
    while os.getppid() == parent:  # still the parent's child: wait for its death signal
        signal.sigwait(WATCHED)
        if os.getppid() == parent:
            return 0  # a stray signal while the parent lives: stop watching, touch nothing
    killed = sweep(marker, grace=grace)
    if killed:
        print(f"lifeline: killed {len(killed)} process(es) still running after {grace:g} s: {killed}",
              file=sys.stderr)
    return 0


def start(marker: str, *, grace: float = 3.0, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a lifeline for this process: when it dies, every process with `marker` in its environment ends."""
    return subprocess.Popen([sys.executable, "-m", "callrouter.demo.lifeline", "--parent", str(os.getpid()),
                             "--marker", marker, "--grace", repr(grace)],
                            env=dict(env if env is not None else os.environ), stdin=subprocess.DEVNULL,
                            start_new_session=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callrouter.demo.lifeline", description=__doc__.split("\n")[0])
    parser.add_argument("--parent", type=int, required=True, help="the pid whose death ends the marked processes")
    parser.add_argument("--marker", required=True, help="NAME=VALUE in the environment of the processes to end")
    parser.add_argument("--grace", type=float, default=3.0, help="seconds between SIGTERM and SIGKILL")
    args = parser.parse_args(argv)
    if "=" not in args.marker or args.marker.startswith("="):
        parser.error("--marker must be NAME=VALUE")
    return watch(parent=args.parent, marker=args.marker.encode(), grace=args.grace)


if __name__ == "__main__":
    sys.exit(main())
