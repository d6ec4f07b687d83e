"""The blind transfer on the two-party <Dial> bridge (CALLROUTER_BRIDGE=dial): the same behaviour as in the room
(tests/e2e/test_conference_bridge.py): redirecting the caller ends the first liaison's leg."""

from __future__ import annotations

import pytest

from tests.e2e.stack import Stack
from tests.e2e.test_conference_bridge import console_of, transfer_to_toeslagen


def test_a_uwv_liaison_transfers_to_toeslagen_on_the_dial_bridge(dial_live: Stack,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert dial_live.bridge == "dial"
    with console_of(dial_live, monkeypatch) as console_side:
        transfer_to_toeslagen(dial_live, console_side)
