"""The one table from a call's steps to Twilio webhook paths, and the URL of a `Goto` built from it.

Steps without a path (opening hours, into the queue, the end) are only ever reached from another
step inside one request; a reply can send the call to a step only when it has a path here.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from urllib.parse import urlencode

from callrouter.domain.call_flow import Goto, Step

PREFIX = "/twilio/voice"
PATHS: dict[Step, str] = {
    Step.INCOMING: "/incoming",
    Step.PIN: "/pin",
    Step.CASE_REFERENCE: "/case-reference",
    Step.MENU: "/menu",
    Step.WAIT: "/wait",
    Step.QUEUE_EXIT: "/queue-exit",
    Step.CONNECT: "/connect",
    Step.WHISPER: "/whisper",
    Step.DIAL_RESULT: "/dial-result",
    Step.LIAISON_LEG: "/liaison-status",
    Step.ROOM_HOLD: "/room-hold",
    Step.ROOM_JOIN: "/room-join",
    Step.ROOM_EVENT: "/room-event",
    Step.ROOM_LEFT: "/room-left",
    Step.BACK_IN_LINE: "/back-in-line",
    Step.TRANSFERRED: "/transferred",
    Step.CONSULT_HOLD: "/consult-hold",
    Step.CONSULT_WHISPER: "/consult-whisper",
    Step.CONSULT_LEG: "/consult-leg-status",
    Step.STATUS: "/status",
    Step.VERDICT_ANSWER: "/verdict",
    Step.CALLBACK_OFFER: "/callback/offer",
    Step.CALLBACK_DIALOGUE: "/callback/dialogue",
    Step.CALLBACK_LIAISON: "/callback/liaison",
    Step.CALLBACK_LIAISON_CHOICE: "/callback/liaison-choice",
    Step.CALLBACK_DIALLED: "/callback/dialled",
    Step.CALLBACK_LEG_STATUS: "/callback/leg-status",
}


def path_of(target: Goto) -> str:
    """'/twilio/voice/menu?step=topic' for Goto(Step.MENU, (("step", "topic"),))."""
    try:
        path = PREFIX + PATHS[target.step]
    except KeyError:
        raise ValueError(f"step {target.step.value} has no webhook: a reply cannot send a call there") from None
    return path + (f"?{urlencode(target.params)}" if target.params else "")


def new_turn() -> str:
    """A fresh turn, the path segment before a webhook path (`/turn/<t>/twilio/voice/...`): Twilio signs a
    different URL for each turn and the same one for a retry (web/twilio_webhook.py)."""
    return "/turn/" + secrets.token_urlsafe(6)


def url_maker(public_url: str, *, fresh_turn: bool = False) -> Callable[[Goto], str]:
    """`fresh_turn`: each URL under a turn of its own (`/turn/<t>` before the path), for the redirects the service
    sends through Twilio's REST API. Twilio's request after a redirect carries the same parameters each time (the
    call's), so two redirects of one call to one step (the same liaison offered twice) would otherwise be the same
    signed request, and the second would get the first's stored answer as a retry (twilio_webhook's replay guard)."""
    base = public_url.rstrip("/")

    def url_of(target: Goto) -> str:
        if fresh_turn:
            return base + new_turn() + path_of(target)
        return base + path_of(target)

    return url_of
