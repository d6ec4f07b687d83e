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


@pytest.fixture()
def live(stack: Stack, redis) -> Iterator[Stack]:  # noqa: ANN001 - the flushed-Redis fixture
    """The running stack with Redis flushed (no queues, everybody offline) and no phones registered."""
    stack.emulator.duplicate_status_callbacks = False
    stack.emulator.reorder_status_callbacks = False
    yield stack
    stack.emulator.wait_until_idle(timeout=30)
