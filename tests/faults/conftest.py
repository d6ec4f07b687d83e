"""The fault suite's stack (tests/faults/cluster.py), shared by its modules, and the figures it prints.

Each test records its figures with `record_figures`; they are written to faults-figures.json in pytest's
base temporary folder and printed as a table at the end of the run (with or without -s).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.cluster import Cluster, running_cluster
from tests.faults.one_host import OneHost, one_host
from tests.faults.traffic import Figures

_FIGURES: dict[str, dict[str, Any]] = {}
_FILE: list[Path] = []
COLUMNS = ["calls", "in_flight_at_fault", "answered", "called_back", "told_apology", "other_end", "lost",
           "double_dials", "double_booked", "failed_webhooks", "timed_out", "longest_webhook_s", "liaisons_busy_after",
           "recover_s"]


@pytest.fixture(scope="session")
def cluster_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("faults")) as cluster:
        yield cluster


@pytest.fixture()
def cluster(cluster_once: Cluster) -> Iterator[Cluster]:
    """The stack with every host, worker and cron running and both backends UP in HAProxy."""
    cluster_once.ensure_running()
    yield cluster_once
    cluster_once.emulator.rest_create_delay = 0.0


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OneHost]:
    """One host of its own for a module of kill-point tests (tests/faults/one_host.py)."""
    with one_host(tmp_path_factory.mktemp("one-host")) as found:
        yield found


def _recorder(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    def record(name: str, figures: Figures) -> None:
        _FIGURES[name] = figures.as_dict()
        path = tmp_path_factory.getbasetemp() / "faults-figures.json"
        path.write_text(json.dumps(_FIGURES, indent=2, default=str))
        _FILE[:] = [path]

    return record


@pytest.fixture()
def record_figures(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return _recorder(tmp_path_factory)


@pytest.fixture(scope="module")
def record_figures_once(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return _recorder(tmp_path_factory)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fault figures")
    width = max(len(name) for name in _FIGURES)
    terminalreporter.write_line(" ".join([f"{'fault':<{width}}", *(f"{c:>{max(len(c), 6)}}" for c in COLUMNS)]))
    for name, figures in _FIGURES.items():
        cells = []
        for column in COLUMNS:
            value = figures.get(column)
            cells.append(f"{'-' if value is None else value:>{max(len(column), 6)}}")
        terminalreporter.write_line(" ".join([f"{name:<{width}}", *cells]))
    for name, figures in _FIGURES.items():
        if figures.get("notes"):
            terminalreporter.write_line(f"{name}: {json.dumps(figures['notes'], default=str)}")
        for problem in figures.get("problems", [])[:10]:
            terminalreporter.write_line(f"{name}: problem: {problem}")
    if _FILE:
        terminalreporter.write_line(f"figures: {_FILE[0]}")
