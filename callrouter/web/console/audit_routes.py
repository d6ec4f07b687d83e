"""/staff/beheer/auditlog: the audit log on a page for functioneel beheer (and as CSV for an auditor).

Who opened which call page, drill-down or export, when, with what filters and from where
(callrouter/web/audit.py writes the rows; `callrouter audit list` reads the same). Only the admin role
may read it: a supervisor's reading is what is audited. A bad filter is refused with 400 naming the field,
before anything is read.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from callrouter.domain.staff import Role
from callrouter.ports.audit import ACTIONS, AuditEntry
from callrouter.web.staff_auth.context import StaffPageError, Who, staff_web, who

router = APIRouter(prefix="/staff", include_in_schema=False)
PAGE = "/staff/beheer/auditlog"
ACTION_NAMES_NL = {"call_page": "Gesprekspagina geopend", "drilldown": "Lijst van gesprekken (uitsplitsing)",
                   "export": "Download (CSV of JSON)", "voice_message": "Ingesproken bericht beluisterd"}
DEFAULT_DAYS = 7
MAX_ROWS = 10_000
PAGE_ROWS = 200
CSV_COLUMNS = ["at", "account_id", "account", "action", "target", "filters", "origin"]


class AuditQueryRefused(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AuditQuery:
    first_day: date
    last_day: date
    account_id: int | None
    action: str | None
    format: str

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first_day, time(0), tz).astimezone(UTC)
        end = datetime.combine(self.last_day + timedelta(days=1), time(0), tz).astimezone(UTC)
        return start, end

    def values(self) -> dict[str, str]:
        return {"van": self.first_day.isoformat(), "tot": self.last_day.isoformat(),
                "account": "" if self.account_id is None else str(self.account_id), "actie": self.action or ""}


def _day(raw: str | None, field: str, default: date) -> date:
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise AuditQueryRefused(field, f"'{field}' is geen datum; schrijf die als JJJJ-MM-DD, "
                                       "bijvoorbeeld 2026-11-25.") from None


def read_query(params: dict[str, str], today: date) -> AuditQuery:
    unknown = sorted(set(params) - {"van", "tot", "account", "actie", "format"})
    if unknown:
        raise AuditQueryRefused(unknown[0], f"'{unknown[0]}' is geen filter van het auditlog; "
                                            "gebruik van, tot, account, actie of format.")
    last = _day(params.get("tot"), "tot", today)
    first = _day(params.get("van"), "van", last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise AuditQueryRefused("van", "'van' ligt na 'tot'; kies een begindatum op of voor de einddatum.")
    account: int | None = None
    if params.get("account"):
        raw = params["account"]
        if not raw.isdigit() or len(raw) > 12:
            raise AuditQueryRefused("account", "'account' is het nummer van een account (alleen cijfers), "
                                               "zoals `callrouter staff list` het toont.")
        account = int(raw)
    action = params.get("actie") or None
    if action is not None and action not in ACTIONS:
        raise AuditQueryRefused("actie", f"'actie' is een van: {', '.join(ACTIONS)}.")
    fmt = params.get("format") or "html"
    if fmt not in ("html", "csv"):
        raise AuditQueryRefused("format", "'format' is html of csv.")
    return AuditQuery(first, last, account, action, fmt)


def _filters(entry: AuditEntry) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(entry.filters.items()))


def as_csv(query: AuditQuery, entries: list[AuditEntry]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow([e.at.astimezone(UTC).isoformat(timespec="seconds"), e.account_id, e.account, e.action,
                         e.target, json.dumps(e.filters, ensure_ascii=False, sort_keys=True), e.origin])
    name = f"auditlog-{query.first_day.isoformat()}-{query.last_day.isoformat()}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/beheer/auditlog")
def audit_log_page(request: Request, person: Who = Depends(who)) -> Response:
    if not any(g.role == Role.ADMIN for g in person.account.grants):
        raise StaffPageError(403, "Geen toegang", "Het auditlog is alleen te lezen voor functioneel beheer.")
    web = staff_web(request)
    tz = ZoneInfo(web.settings.timezone)
    try:
        query = read_query(dict(request.query_params), datetime.now(tz).date())
    except AuditQueryRefused as refused:
        return web.render(request, "audit_log.html", {"refused": refused, "values": dict(request.query_params),
                                                      "actions": ACTION_NAMES_NL}, status=400, who=person)
    start, end = query.bounds(tz)
    limit = MAX_ROWS if query.format == "csv" else PAGE_ROWS + 1
    entries = request.app.state.container.parts.audit.entries(since=start, until=end, account_id=query.account_id,
                                                               action=query.action, limit=limit)
    if query.format == "csv":
        return as_csv(query, entries)
    return web.render(request, "audit_log.html", {
        "query": query, "values": query.values(), "actions": ACTION_NAMES_NL, "entries": entries[:PAGE_ROWS],
        "more": len(entries) > PAGE_ROWS, "page_rows": PAGE_ROWS, "filters_of": _filters,
        "csv_link": PAGE + "?" + urlencode({k: v for k, v in {**query.values(), "format": "csv"}.items() if v}),
    }, who=person)
