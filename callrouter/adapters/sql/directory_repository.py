"""Directory reads for the voice service, as domain dataclasses, from a short-lived in-process snapshot.

Every webhook reads the directory, so the whole (small) directory is loaded in one go and kept
for `ttl_seconds` (e.g. 5 s). A directory import therefore becomes visible to each process
within that TTL; `clear_cache()` makes it visible at once in this process. Only active rows are
served: a deactivated caseworker, liaison, organisation or location is not found.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from threading import Lock

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.directory_tables import (
    CaseworkerPhoneRow,
    CaseworkerRow,
    LiaisonRow,
    LiaisonTopicRow,
    LineOrganisationRow,
    LineRow,
    LocationOrganisationRow,
    LocationRow,
    OrganisationRow,
    TopicRow,
    hours_from_json,
)
from callrouter.domain.directory import Caseworker, Liaison, Line, LineKind, Location, Organisation, Topic


@dataclass(frozen=True)
class DirectorySnapshot:
    organisations: dict[str, Organisation] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    lines: dict[str, Line] = field(default_factory=dict)
    caseworkers_by_code: dict[str, Caseworker] = field(default_factory=dict)
    caseworkers_by_id: dict[int, Caseworker] = field(default_factory=dict)
    caseworkers_by_phone: dict[str, Caseworker] = field(default_factory=dict)
    liaisons: dict[int, Liaison] = field(default_factory=dict)
    liaisons_by_code: dict[str, Liaison] = field(default_factory=dict)


def load_snapshot(session: Session) -> DirectorySnapshot:
    """The active directory in a handful of queries (one per table)."""
    org_rows = session.scalars(select(OrganisationRow).where(OrganisationRow.active).order_by(OrganisationRow.code)).all()
    org_code = {row.id: row.code for row in org_rows}
    topics: dict[int, list[Topic]] = defaultdict(list)
    topic_key: dict[int, tuple[int, str]] = {}
    for t in session.scalars(select(TopicRow).order_by(TopicRow.organisation_id, TopicRow.position)):
        topic_key[t.id] = (t.organisation_id, t.code)
        if t.organisation_id in org_code:
            topics[t.organisation_id].append(Topic(org_code[t.organisation_id], t.code, t.name_nl, t.name_en))
    organisations = {
        row.code: Organisation(row.code, row.name, row.public_phone, hours_from_json(row.hours), tuple(topics[row.id]))
        for row in org_rows
    }

    members: dict[int, list[str]] = defaultdict(list)
    links = select(LocationOrganisationRow).order_by(LocationOrganisationRow.location_id, LocationOrganisationRow.position)
    for link in session.scalars(links):
        if link.organisation_id in org_code:
            members[link.location_id].append(org_code[link.organisation_id])
    location_rows = session.scalars(select(LocationRow).where(LocationRow.active)).all()
    location_code = {row.id: row.code for row in location_rows}
    locations = {row.code: Location(row.code, row.name, tuple(members[row.id])) for row in location_rows}

    scopes: dict[int, list[str]] = defaultdict(list)
    for scope in session.scalars(select(LineOrganisationRow)):
        if scope.organisation_id in org_code:
            scopes[scope.line_id].append(org_code[scope.organisation_id])
    lines = {
        row.number: Line(row.number, LineKind(row.kind), tuple(sorted(scopes[row.id])), row.label,
                         bool(row.verdict_question))
        for row in session.scalars(select(LineRow))
    }

    phones: dict[int, list[str]] = defaultdict(list)
    for phone in session.scalars(select(CaseworkerPhoneRow).order_by(CaseworkerPhoneRow.number)):
        phones[phone.caseworker_id].append(phone.number)
    caseworkers = [
        Caseworker(row.id, row.code, row.name, location_code[row.location_id], tuple(phones[row.id]), row.pin_hash)
        for row in session.scalars(select(CaseworkerRow).where(CaseworkerRow.active))
        if row.location_id in location_code
    ]

    known: dict[int, list[int]] = defaultdict(list)
    for topic_link in session.scalars(select(LiaisonTopicRow)):
        known[topic_link.liaison_id].append(topic_link.topic_id)
    liaisons: list[Liaison] = []
    for row in session.scalars(select(LiaisonRow).where(LiaisonRow.active).order_by(LiaisonRow.code)):
        if row.organisation_id not in org_code:
            continue
        order = {t.code: i for i, t in enumerate(topics[row.organisation_id])}
        codes = sorted((topic_key[tid][1] for tid in known[row.id]), key=lambda code: order.get(code, len(order)))
        liaisons.append(Liaison(row.id, row.code, row.name, org_code[row.organisation_id], tuple(codes), row.address))

    return DirectorySnapshot(
        organisations=organisations,
        locations=locations,
        lines=lines,
        caseworkers_by_code={cw.code: cw for cw in caseworkers},
        caseworkers_by_id={cw.id: cw for cw in caseworkers},
        caseworkers_by_phone={number: cw for cw in caseworkers for number in cw.phone_numbers},
        liaisons={li.id: li for li in liaisons},
        liaisons_by_code={li.code: li for li in liaisons},
    )


class SqlDirectory:
    """The directory reads the voice service needs; cached for `ttl_seconds` per process."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_factory = session_factory
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = Lock()
        self._snapshot: DirectorySnapshot | None = None
        self._expires = 0.0

    def clear_cache(self) -> None:
        with self._lock:
            self._snapshot = None

    def _current(self) -> DirectorySnapshot:
        snapshot = self._snapshot
        if snapshot is not None and self._clock() < self._expires:
            return snapshot
        with self._lock:
            if self._snapshot is None or self._clock() >= self._expires:
                with self._session_factory() as session:
                    self._snapshot = load_snapshot(session)
                self._expires = self._clock() + self._ttl
            return self._snapshot

    def line_by_number(self, number: str) -> Line | None:
        return self._current().lines.get(number)

    def caseworker_by_phone(self, number: str) -> Caseworker | None:
        return self._current().caseworkers_by_phone.get(number)

    def caseworker(self, caseworker_id: int) -> Caseworker | None:
        return self._current().caseworkers_by_id.get(caseworker_id)

    def caseworker_by_code(self, code: str) -> Caseworker | None:
        return self._current().caseworkers_by_code.get(code)

    def location(self, code: str) -> Location | None:
        return self._current().locations.get(code)

    def organisation(self, code: str) -> Organisation | None:
        return self._current().organisations.get(code)

    def organisations_at(self, location_code: str) -> list[Organisation]:
        """The organisations connected at a location, in menu order (empty for an unknown location)."""
        snapshot = self._current()
        location = snapshot.locations.get(location_code)
        if location is None:
            return []
        return [snapshot.organisations[code] for code in location.organisations if code in snapshot.organisations]

    def liaison(self, liaison_id: int) -> Liaison | None:
        return self._current().liaisons.get(liaison_id)

    def liaison_by_code(self, code: str) -> Liaison | None:
        return self._current().liaisons_by_code.get(code)

    def liaisons_of(self, org_code: str) -> list[Liaison]:
        return [li for li in self._current().liaisons.values() if li.organisation == org_code]

    def all_organisations(self) -> list[Organisation]:
        """Active organisations, by code."""
        return list(self._current().organisations.values())
