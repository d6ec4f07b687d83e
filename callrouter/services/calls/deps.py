"""What the steps of a call work with: the ports, the voice menus and the settings that shape a call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from callrouter.domain import ivr
from callrouter.ports.calls import (
    AfterReply,
    CallbackStore,
    CallStore,
    Clock,
    Directory,
    Guard,
    Jobs,
    PinVerifier,
    PresenceStore,
    Router,
    Telephony,
)
from callrouter.ports.cases import CaseStore
from callrouter.services.callback_policy import CallbackPolicy
from callrouter.services.statistics.wallboard import LiveBoard


@dataclass(frozen=True)
class CallDeps:
    flows: dict[str, ivr.Flow]
    directory: Directory
    calls: CallStore
    router: Router
    presence: PresenceStore
    telephony: Telephony
    guard: Guard
    pins: PinVerifier
    clock: Clock
    pseudonym_key: bytes
    holidays: Callable[[date], str | None]
    callbacks: CallbackStore
    jobs: Jobs
    after: AfterReply  # routing after the reply is sent (web), or at once (API, workers)
    callback_policy: CallbackPolicy = field(default_factory=lambda: CallbackPolicy())
    general_public_phone: str = "1400"
    dial_timeout_seconds: int = 20
    # An offer, callback attempt or consult leg with no news this long after its ring time is taken for lost
    # (the process that placed it died) by the reconciler (services/calls/reconcile.py).
    reconcile_margin_seconds: int = 30
    hold_music_url: str = ""
    wrap_up_seconds: int = 0
    consult_wait_seconds: int = 120  # a consult nobody was claimed for ends as "nobody free" after this
    bridge: str = "dial"  # "conference": the call's room, the liaison's leg placed by REST; "dial": <Dial>
    # The wallboard's live counters (None: not kept, as in unit tests).
    live: LiveBoard | None = None
    # Cases for the multi-organisation figures (None: calls are not grouped into cases).
    cases: CaseStore | None = None

    def flow_for(self, kind: str) -> ivr.Flow:
        return self.flows[kind]
