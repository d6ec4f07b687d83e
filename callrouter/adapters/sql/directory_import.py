"""Import the directory file into the database: all or nothing, idempotent, nothing lost.

The file is checked completely first (`DirectoryFileInvalid` lists every problem, and then
nothing is written). The import runs in one transaction and makes the database match the file:
- new entries are created, changed ones updated, identical ones left alone (re-importing the
  same file changes nothing, and the report says so);
- caseworkers and liaisons missing from the file are deactivated, never deleted, because call
  records reference them by id; a deactivated caseworker loses its phone numbers and PIN hash;
- organisations and locations missing from the file are deleted, or deactivated while a
  caseworker or liaison row still references them; topics, lines and links are deleted;
- a clear `pin` (demo only) is hashed with argon2; an existing hash that still matches the PIN
  is kept, so a re-import does not rewrite it.
Readers through `SqlDirectory` see the result within its cache TTL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.directory_yaml import DirectoryFile, load_directory_file
from callrouter.adapters.sql.base import Base
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
    hours_to_json,
)

log = logging.getLogger("callrouter.directory")
KINDS = ("organisations", "topics", "locations", "caseworkers", "liaisons", "lines")
_Row = TypeVar("_Row", bound=Base)


class PinHasher(Protocol):
    def hash(self, pin: str) -> str: ...

    def verify(self, pin_hash: str, pin: str) -> bool: ...


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    deleted: int = 0


@dataclass
class ImportReport:
    counts: dict[str, Counts] = field(default_factory=lambda: {kind: Counts() for kind in KINDS})

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated or c.deactivated or c.deleted for c in self.counts.values())

    def summary(self) -> list[str]:
        return [
            f"{kind}: {c.created} created, {c.updated} updated, {c.deactivated} deactivated, "
            f"{c.deleted} deleted, {c.unchanged} unchanged"
            for kind, c in self.counts.items()
        ]


def check_directory_file(*, path: Path) -> DirectoryFile:
    """Validate only; raises DirectoryFileInvalid with every `file:line: message`."""
    return load_directory_file(path)


def import_directory(*, path: Path, session_factory: sessionmaker[Session], hasher: PinHasher) -> ImportReport:
    """Make the database match the directory file, in one transaction; see the module docstring."""
    directory = load_directory_file(path)
    with session_factory.begin() as session:
        report = _Sync(session, hasher).run(directory)
    totals = {name: sum(getattr(c, name) for c in report.counts.values()) for name in vars(Counts())}
    log.info("directory.imported path=%s %s", path, " ".join(f"{name}={n}" for name, n in totals.items()))
    return report


def _assign(row: Any, values: dict[str, Any]) -> bool:
    """Set the attributes that differ; True if any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


class _Sync:
    def __init__(self, session: Session, hasher: PinHasher) -> None:
        self.session = session
        self.hasher = hasher
        self.report = ImportReport()

    def upsert(self, model: type[_Row], existing: _Row | None, key: dict[str, Any],
               values: dict[str, Any]) -> tuple[_Row, str]:
        if existing is None:
            row = model(**key, **values)
            self.session.add(row)
            self.session.flush()  # the id, for links
            return row, "created"
        return existing, "updated" if _assign(existing, values) else "unchanged"

    def count(self, kind: str, status: str, links_changed: bool = False) -> None:
        if status == "unchanged" and links_changed:
            status = "updated"
        counts = self.report.counts[kind]
        setattr(counts, status, getattr(counts, status) + 1)

    def links(self, model: type[Any], owner: str, owner_id: int, other: str, wanted: dict[int, dict[str, Any]]) -> bool:
        """Make the link rows of one owner exactly `wanted` (other id -> extra columns); True if they changed."""
        rows = {getattr(r, other): r for r in self.session.scalars(select(model).where(getattr(model, owner) == owner_id))}
        changed = False
        for other_id, row in rows.items():
            if other_id not in wanted:
                self.session.delete(row)
                changed = True
        for other_id, extra in wanted.items():
            if other_id in rows:
                changed |= _assign(rows[other_id], extra)
            else:
                self.session.add(model(**{owner: owner_id, other: other_id}, **extra))
                changed = True
        return changed

    def run(self, d: DirectoryFile) -> ImportReport:
        org_ids = self.organisations(d)
        topic_ids = self.topics(d, org_ids)
        location_ids = self.locations(d, org_ids)
        self.caseworkers(d, location_ids)
        self.liaisons(d, org_ids, topic_ids)
        self.lines(d, org_ids)
        self.retire_locations({loc.code for loc in d.locations})
        self.retire_organisations(set(org_ids))
        self.session.flush()
        return self.report

    def organisations(self, d: DirectoryFile) -> dict[str, int]:
        rows = {r.code: r for r in self.session.scalars(select(OrganisationRow))}
        ids = {}
        for org in d.organisations:
            values = {"name": org.name, "public_phone": org.public_phone, "hours": hours_to_json(org.hours), "active": True}
            row, status = self.upsert(OrganisationRow, rows.get(org.code), {"code": org.code}, values)
            self.count("organisations", status)
            ids[org.code] = row.id
        return ids

    def topics(self, d: DirectoryFile, org_ids: dict[str, int]) -> dict[tuple[str, str], int]:
        rows = {(r.organisation_id, r.code): r for r in self.session.scalars(select(TopicRow))}
        ids = {}
        for org in d.organisations:
            for position, topic in enumerate(org.topics):
                key = {"organisation_id": org_ids[org.code], "code": topic.code}
                values = {"name_nl": topic.name_nl, "name_en": topic.name_en, "position": position}
                row, status = self.upsert(TopicRow, rows.pop((org_ids[org.code], topic.code), None), key, values)
                self.count("topics", status)
                ids[(org.code, topic.code)] = row.id
        self.delete_rows("topics", rows.values(), LiaisonTopicRow.topic_id)
        return ids

    def locations(self, d: DirectoryFile, org_ids: dict[str, int]) -> dict[str, int]:
        rows = {r.code: r for r in self.session.scalars(select(LocationRow))}
        ids = {}
        for loc in d.locations:
            row, status = self.upsert(LocationRow, rows.get(loc.code), {"code": loc.code}, {"name": loc.name, "active": True})
            members = {org_ids[code]: {"position": i} for i, code in enumerate(loc.organisations)}
            self.count("locations", status, self.links(LocationOrganisationRow, "location_id", row.id, "organisation_id", members))
            ids[loc.code] = row.id
        return ids

    def caseworkers(self, d: DirectoryFile, location_ids: dict[str, int]) -> None:
        rows = {r.code: r for r in self.session.scalars(select(CaseworkerRow))}
        statuses: dict[int, str] = {}
        wanted: dict[str, int] = {}  # phone number -> caseworker id
        for cw in d.caseworkers:
            existing = rows.pop(cw.code, None)
            pin_hash = cw.pin_hash
            if cw.pin is not None:
                kept = existing.pin_hash if existing is not None else None
                pin_hash = kept if kept and self.hasher.verify(kept, cw.pin) else self.hasher.hash(cw.pin)
            values = {"name": cw.name, "location_id": location_ids[cw.location], "pin_hash": pin_hash, "active": True}
            row, status = self.upsert(CaseworkerRow, existing, {"code": cw.code}, values)
            statuses[row.id] = status
            wanted.update({number: row.id for number in cw.phone_numbers})
        for row in rows.values():  # left the file: keep the row for the call records, drop personal data
            if row.active:
                row.active, row.pin_hash = False, None
                self.report.counts["caseworkers"].deactivated += 1
        phones_changed: set[int] = set()
        for phone in self.session.scalars(select(CaseworkerPhoneRow)).all():
            owner = wanted.pop(phone.number, None)
            if owner is None:
                self.session.delete(phone)
                phones_changed.add(phone.caseworker_id)
            elif owner != phone.caseworker_id:
                phones_changed |= {owner, phone.caseworker_id}
                phone.caseworker_id = owner
        for number, owner in wanted.items():
            self.session.add(CaseworkerPhoneRow(caseworker_id=owner, number=number))
            phones_changed.add(owner)
        for row_id, status in statuses.items():
            self.count("caseworkers", status, row_id in phones_changed)

    def liaisons(self, d: DirectoryFile, org_ids: dict[str, int], topic_ids: dict[tuple[str, str], int]) -> None:
        rows = {r.code: r for r in self.session.scalars(select(LiaisonRow))}
        for li in d.liaisons:
            values = {"name": li.name, "organisation_id": org_ids[li.organisation], "address": li.address, "active": True}
            row, status = self.upsert(LiaisonRow, rows.pop(li.code, None), {"code": li.code}, values)
            known: dict[int, dict[str, Any]] = {topic_ids[(li.organisation, code)]: {} for code in li.topics}
            self.count("liaisons", status, self.links(LiaisonTopicRow, "liaison_id", row.id, "topic_id", known))
        for row in rows.values():  # left the file: keep the row for the call records
            if row.active:
                row.active = False
                self.report.counts["liaisons"].deactivated += 1

    def lines(self, d: DirectoryFile, org_ids: dict[str, int]) -> None:
        rows = {r.number: r for r in self.session.scalars(select(LineRow))}
        for line in d.lines:
            values = {"kind": line.kind, "label": line.label, "verdict_question": line.verdict_question}
            row, status = self.upsert(LineRow, rows.pop(line.number, None), {"number": line.number}, values)
            scope: dict[int, dict[str, Any]] = {org_ids[code]: {} for code in line.organisations}
            self.count("lines", status, self.links(LineOrganisationRow, "line_id", row.id, "organisation_id", scope))
        self.delete_rows("lines", rows.values(), LineOrganisationRow.line_id)

    def retire_locations(self, keep: set[str]) -> None:
        for row in self.session.scalars(select(LocationRow).where(LocationRow.code.not_in(keep))).all():
            self.session.execute(delete(LocationOrganisationRow).where(LocationOrganisationRow.location_id == row.id))
            self.retire("locations", row, select(CaseworkerRow.id).where(CaseworkerRow.location_id == row.id))

    def retire_organisations(self, keep: set[str]) -> None:
        for row in self.session.scalars(select(OrganisationRow).where(OrganisationRow.code.not_in(keep))).all():
            for link in (LocationOrganisationRow.organisation_id, LineOrganisationRow.organisation_id):
                self.session.execute(delete(link.class_).where(link == row.id))
            self.retire("organisations", row, select(LiaisonRow.id).where(LiaisonRow.organisation_id == row.id))

    def retire(self, kind: str, row: Any, references: Any) -> None:
        """Delete a row that left the file, or deactivate it while other rows still reference it."""
        if self.session.scalar(references.limit(1)) is None:
            self.session.delete(row)
            self.report.counts[kind].deleted += 1
        elif row.active:
            row.active = False
            self.report.counts[kind].deactivated += 1

    def delete_rows(self, kind: str, rows: Iterable[Any], link_column: Any) -> None:
        """Delete rows and the link rows (in `link_column`'s table) that point at them."""
        rows = list(rows)
        if rows:
            self.session.execute(delete(link_column.class_).where(link_column.in_([r.id for r in rows])))
        for row in rows:
            self.session.delete(row)
            self.report.counts[kind].deleted += 1
