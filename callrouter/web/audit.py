"""The staff pages' audit log: who opened which call page, drill-down, export or voice message, with its filters.

A pure ASGI middleware gives every /staff request a holder in its scope; the `who` dependency
(staff_auth/context.py) puts the logged-in account in it. When the page answers 200, the middleware
writes one row (callrouter/ports/audit.py) before the response starts: no row, no page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callrouter.ports.audit import AuditEntry, AuditLog
from callrouter.web.security import source_of

SCOPE_KEY = "callrouter.staff_account"
EXPORT_FORMATS = ("csv", "json")
_CALL_PAGES = (re.compile(r"^/staff/dashboard/oproepen/[^/]+$"), re.compile(r"^/staff/gesprekken/[^/]+$"))
_DRILLDOWN = "/staff/dashboard/oproepen"
_VOICE_MESSAGE = re.compile(r"^/staff/terugbellen/[^/]+/bericht$")
_EXPORT_PAGES = ("/staff/dashboard", "/staff/dashboard/oproepen", "/staff/dashboard/zaken", "/staff/dashboard/menu",
                 "/staff/dashboard/wachttijd", "/staff/onderzoek", "/staff/dashboard/vergelijken")


def action_of(path: str, query: dict[str, str]) -> str | None:
    """call_page, drilldown, export, voice_message (a callback's recording heard), or None for a page that is
    not audited."""
    if query.get("format", "html") in EXPORT_FORMATS and path.rstrip("/") in _EXPORT_PAGES:
        return "export"
    if any(p.match(path) for p in _CALL_PAGES):
        return "call_page"
    if path.rstrip("/") == _DRILLDOWN:
        return "drilldown"
    if _VOICE_MESSAGE.match(path):
        return "voice_message"
    return None


def is_export(request: Request) -> bool:
    return action_of(request.url.path, dict(request.query_params)) == "export"


def note_account(request: Request, account_id: int) -> None:
    holder = request.scope.get(SCOPE_KEY)
    if isinstance(holder, dict):
        holder["account_id"] = account_id


def account_in(scope: Scope) -> int | None:
    holder = scope.get(SCOPE_KEY)
    value = holder.get("account_id") if isinstance(holder, dict) else None
    return value if isinstance(value, int) else None


class AuditTrail:
    def __init__(self, app: ASGIApp, *, log: AuditLog):
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/staff/"):
            await self.app(scope, receive, send)
            return
        holder: dict[str, Any] = {}
        scope[SCOPE_KEY] = holder
        if scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        action = action_of(scope["path"], query)

        async def audited(message: Message) -> None:
            if (action is not None and message["type"] == "http.response.start" and message["status"] == 200
                    and isinstance(holder.get("account_id"), int)):
                entry = AuditEntry(at=datetime.now(UTC), account_id=holder["account_id"], action=action,
                                   target=scope["path"], filters=query, origin=source_of(scope))
                await run_in_threadpool(self.log.record, entry)
            await send(message)

        await self.app(scope, receive, audited)
