"""What a dashboard request asks for: a period and filters, checked against the directory and the roles.

Every problem raises DashboardRefused naming the parameter; nothing is read or changed before the
whole query is valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from callrouter.domain.directory import LineKind, Location, Organisation
from callrouter.domain.queueing import ANY_TOPIC
from callrouter.domain.staff import Account, Role

MAX_DAYS = 400
PERIODS = {"vandaag": "Vandaag", "gisteren": "Gisteren", "week": "Deze week", "maand": "Deze maand",
           "eigen": "Eigen periode"}
FILTERS = ("organisatie", "onderwerp", "loket", "soort")
FORMATS = ("html", "csv", "json")
KNOWN = {"periode", "van", "tot", "format", *FILTERS}
LINE_KINDS_NL = {LineKind.PROFESSIONAL.value: "Professionallijn", LineKind.CITIZEN.value: "Burgerlijn"}


class DashboardRefused(Exception):
    """A request the dashboard refuses: 400/422 for a bad query, 403 for a role that does not fit."""

    def __init__(self, status: int, field: str, message: str):
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


@dataclass(frozen=True)
class Scope:
    """What the person may see: every organisation, or only these."""

    all_organisations: bool
    organisations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Query:
    period: str
    first_day: date
    last_day: date
    organisation: str | None = None
    topic: str | None = None
    location: str | None = None
    line_kind: str | None = None
    format: str = "html"
    fixed_organisation: bool = False  # a team lead's organisation, not a choice
    raw: dict[str, str] = field(default_factory=dict)

    def filters(self) -> dict[str, str | None]:
        return {"organisation": self.organisation, "topic": self.topic, "location": self.location,
                "line_kind": self.line_kind}

    def export_query(self, fmt: str) -> str:
        from urllib.parse import urlencode

        values = {k: v for k, v in self.raw.items() if v and k != "format"}
        return urlencode({**values, "format": fmt})

    def with_params(self, **extra: str | int | None) -> str:
        """This query's period and filters plus `extra` (None leaves a name out; a filter can be replaced)."""
        from urllib.parse import urlencode

        values: dict[str, object] = {"periode": self.period}
        values.update({k: v for k, v in self.raw.items() if v and k != "format"})
        values.update(extra)
        return urlencode({k: v for k, v in values.items() if v is not None and v != ""})


def scope_of(account: Account) -> Scope:
    """Supervisors and admins see everything; a team lead only their organisation(s); others nothing."""
    roles = {grant.role for grant in account.grants}
    if roles & {Role.SUPERVISOR, Role.ADMIN}:
        return Scope(all_organisations=True)
    leads = sorted({g.organisation for g in account.grants if g.role == Role.TEAM_LEAD and g.organisation})
    if leads:
        return Scope(all_organisations=False, organisations=tuple(leads))
    raise DashboardRefused(403, "rol", "Het overzicht is er voor teamleiders, het programmateam en functioneel "
                                       "beheer. U hebt geen van die rollen.")


def _day(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DashboardRefused(422, name, f"De datum bij '{name}' is geen geldige datum (jjjj-mm-dd): "
                                          f"{value[:20]!r}.") from None


def _period(params: Mapping[str, str], today: date) -> tuple[str, date, date]:
    period = params.get("periode", "") or ("eigen" if params.get("van") or params.get("tot") else "vandaag")
    if period not in PERIODS:
        raise DashboardRefused(422, "periode", f"Onbekende periode {period[:20]!r}; kies uit {', '.join(PERIODS)}.")
    if period == "vandaag":
        return period, today, today
    if period == "gisteren":
        return period, today - timedelta(days=1), today - timedelta(days=1)
    if period == "week":
        return period, today - timedelta(days=today.weekday()), today
    if period == "maand":
        return period, today.replace(day=1), today
    if not params.get("van") or not params.get("tot"):
        raise DashboardRefused(422, "van" if not params.get("van") else "tot",
                               "Een eigen periode heeft een begindatum ('van') en een einddatum ('tot').")
    first, last = _day("van", params["van"]), _day("tot", params["tot"])
    if last < first:
        raise DashboardRefused(422, "tot", "De einddatum ligt voor de begindatum.")
    if (last - first).days + 1 > MAX_DAYS:
        raise DashboardRefused(422, "tot", f"De periode is langer dan {MAX_DAYS} dagen.")
    return period, first, last


def parse(params: Mapping[str, str], *, now: datetime, zone: ZoneInfo, scope: Scope,
          organisations: Mapping[str, Organisation], locations: Mapping[str, Location],
          extra: frozenset[str] = frozenset()) -> Query:
    """Check every parameter of a dashboard request; the query, or DashboardRefused naming the parameter.

    `extra`: further parameter names the caller checks itself (e.g. the drill-down's `cijfer`)."""
    allowed = KNOWN | extra
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise DashboardRefused(400, unknown[0], f"Onbekende parameter {unknown[0][:30]!r}; "
                                                f"toegestaan: {', '.join(sorted(allowed))}.")
    values = {name: params.get(name, "").strip() for name in KNOWN}
    fmt = values["format"] or "html"
    if fmt not in FORMATS:
        raise DashboardRefused(422, "format", f"Onbekend formaat {fmt[:20]!r}; kies uit {', '.join(FORMATS)}.")
    period, first, last = _period(values, now.astimezone(zone).date())
    org = values["organisatie"] or None
    if org is not None and org not in organisations:
        raise DashboardRefused(422, "organisatie", f"Onbekende organisatie {org[:20]!r}.")
    fixed = False
    if not scope.all_organisations:
        if org is not None and org not in scope.organisations:
            raise DashboardRefused(403, "organisatie", "U bent teamleider van een andere organisatie; u ziet "
                                                       "alleen de cijfers van uw eigen organisatie.")
        org = org or scope.organisations[0]
        fixed = len(scope.organisations) == 1
    topic = values["onderwerp"] or None
    if topic is not None:
        # ANY_TOPIC: the calls for any liaison of the organisation (the menu's 0), a column of the heat table
        known = {t.code for o in organisations.values() if org in (None, o.code) for t in o.topics} | {ANY_TOPIC}
        if topic not in known:
            where = f" bij {org}" if org else ""
            raise DashboardRefused(422, "onderwerp", f"Onbekend onderwerp {topic[:20]!r}{where}.")
    location = values["loket"] or None
    if location is not None and location not in locations:
        raise DashboardRefused(422, "loket", f"Onbekend loket {location[:20]!r}.")
    kind = values["soort"] or None
    if kind is not None and kind not in LINE_KINDS_NL:
        raise DashboardRefused(422, "soort", f"Onbekende soort lijn {kind[:20]!r}; kies uit "
                                             f"{', '.join(LINE_KINDS_NL)}.")
    raw = {name: value for name, value in values.items() if value}
    if not scope.all_organisations:
        raw["organisatie"] = org or ""
    return Query(period, first, last, org, topic, location, kind, fmt, fixed, raw)
