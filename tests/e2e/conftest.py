from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The service as deployed (uvicorn, 2 worker processes) on SQLite, with the emulator."""
    workdir: Path = tmp_path_factory.mktemp("e2e")
    with running_stack(redis_url=redis_url, database_url=f"sqlite:///{workdir / 'e2e.sqlite3'}",
                       workdir=workdir) as running:
        yield running


@pytest.fixture(scope="module")
def dial_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The same stack pinned to the two-party <Dial> bridge (CALLROUTER_BRIDGE=dial), which stays an option."""
    workdir: Path = tmp_path_factory.mktemp("e2e-dial")
    with running_stack(redis_url=redis_url, database_url=f"sqlite:///{workdir / 'e2e.sqlite3'}",
                       workdir=workdir, settings={"CALLROUTER_BRIDGE": "dial"}) as running:
        yield running


@pytest.fixture()
def dial_live(dial_stack: Stack, redis) -> Iterator[Stack]:  # noqa: ANN001 - the flushed-Redis fixture
    """The dial-bridge stack with Redis flushed."""
    dial_stack.emulator.duplicate_status_callbacks = False
    dial_stack.emulator.reorder_status_callbacks = False
    yield dial_stack
    dial_stack.emulator.wait_until_idle(timeout=30)


@pytest.fixture()
def live(stack: Stack, redis) -> Iterator[Stack]:  # noqa: ANN001 - the flushed-Redis fixture
    """The running stack with Redis flushed (no queues, everybody offline) and no phones registered."""
    stack.emulator.duplicate_status_callbacks = False
    stack.emulator.reorder_status_callbacks = False
    yield stack
    stack.emulator.wait_until_idle(timeout=30)
