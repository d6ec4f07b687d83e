"""Cases in SQL: attach a call to its case (safe across processes), and read the cases of a period.

Attaching runs in one transaction: the caseworker's current case for the reference (found by its
unique `open_key`, locked), still current by the policy -> join it; else clear its key and open a new
case. Two processes that open a case for the same key at once: one insert fails on the unique
constraint, its transaction rolls back and is tried again, and then finds the other's case.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.adapters.sql.case_tables import CaseRow
from callrouter.adapters.sql.reading import utc
from callrouter.adapters.sql.staff_tables import ConversationOutcomeRow
from callrouter.domain.cases import CasePolicy, open_key, still_current
from callrouter.ports.cases import StoredCall, StoredCase

_CASES = CaseRow.__table__
_CALLS = CallRow.__table__
_EVENTS = CallEventRow.__table__
_OUTCOMES = ConversationOutcomeRow.__table__
ATTEMPTS = 3

class SqlCaseStore:
    def __init__(self, session_factory: sessionmaker[Session], *, policy: CasePolicy | None = None,
                 zone: ZoneInfo | None = None):
        self._sessions = session_factory
        bind = session_factory.kw.get("bind")
        self._engine: Engine | None = bind if isinstance(bind, Engine) else None
        self.policy = policy or CasePolicy()
        self.zone = zone or ZoneInfo("Europe/Amsterdam")

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        if self._engine is not None:
            with self._engine.begin() as conn:
                yield conn
        else:
            with self._sessions.begin() as session:
                yield session.connection()

    def attach(self, *, call_sid: str, caseworker_id: int, location: str, reference: str | None,
               at: datetime) -> int | None:
        """The case the call now belongs to (a call attached before keeps its case); None: unknown call.
        `reference` is the keyed pseudonym of (caseworker, reference), or None."""
        for attempt in range(ATTEMPTS):
            try:
                with self._transaction() as conn:
                    return self._attach(conn, call_sid=call_sid, caseworker_id=caseworker_id, location=location,
                                        reference=reference, at=utc(at))
            except IntegrityError:  # another process opened the case meanwhile: try again, then join it
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _attach(self, conn: Connection, *, call_sid: str, caseworker_id: int, location: str,
                reference: str | None, at: datetime) -> int | None:
        call = conn.execute(select(_CALLS.c.id, _CALLS.c.case_id).where(_CALLS.c.sid == call_sid)).one_or_none()
        if call is None:
            return None
        if call.case_id is not None:  # a repeated request: the call keeps its case
            return int(call.case_id)
        key = open_key(caseworker_id=caseworker_id, reference=reference)
        current = conn.execute(select(_CASES.c.id, _CASES.c.opened_at, _CASES.c.last_call_at)
                               .where(_CASES.c.open_key == key).with_for_update()).one_or_none()
        if current is not None and still_current(opened_at=utc(current.opened_at),
                                                 last_call_at=utc(current.last_call_at), at=at,
                                                 has_reference=reference is not None, policy=self.policy):
            case_id = int(current.id)
            last = max(utc(current.last_call_at), at)
            conn.execute(update(_CASES).where(_CASES.c.id == case_id)
                         .values(last_call_at=last, calls=_CASES.c.calls + 1))
        else:
            if current is not None:  # the old case is over: a new one takes its key
                conn.execute(update(_CASES).where(_CASES.c.id == current.id, _CASES.c.open_key == key)
                             .values(open_key=None))
            result = conn.execute(insert(_CASES).values(
                caseworker_id=caseworker_id, location=location, reference=reference, open_key=key, opened_at=at,
                local_day=at.astimezone(self.zone).date(), last_call_at=at, calls=1))
            inserted = result.inserted_primary_key
            assert inserted is not None
            case_id = int(inserted[0])
        conn.execute(update(_CALLS).where(_CALLS.c.id == call.id).values(case_id=case_id, case_reference=reference))
        return case_id

    def case_of(self, call_sid: str) -> tuple[int | None, str | None]:
        """(case id, reference pseudonym) of a call, for tests and the console."""
        with self._sessions() as session:
            row = session.execute(select(_CALLS.c.case_id, _CALLS.c.case_reference)
                                  .where(_CALLS.c.sid == call_sid)).one_or_none()
            return (row.case_id, row.case_reference) if row else (None, None)

    def opened_between(self, *, first_day: date, last_day: date, location: str | None = None) -> list[StoredCase]:
        """Cases opened on these local days, with their calls, events and liaison outcomes (index on local_day,
        then calls by case_id and events by call_id: the cost follows the period, not the history)."""
        query = (select(_CASES.c.id.label("case_id"), _CASES.c.location, _CALLS.c.id.label("call_id"),
                        _CALLS.c.organisation, _CALLS.c.topic, _CALLS.c.line_kind, _OUTCOMES.c.outcome,
                        _OUTCOMES.c.referred_organisation, _EVENTS.c.kind, _EVENTS.c.at, _EVENTS.c.detail)
                 .select_from(_CASES.join(_CALLS, _CALLS.c.case_id == _CASES.c.id)
                              .outerjoin(_OUTCOMES, _OUTCOMES.c.call_id == _CALLS.c.id)
                              .outerjoin(_EVENTS, _EVENTS.c.call_id == _CALLS.c.id))
                 .where(_CASES.c.local_day >= first_day, _CASES.c.local_day <= last_day)
                 .order_by(_CASES.c.id, _CALLS.c.id, _EVENTS.c.id))
        if location:
            query = query.where(_CASES.c.location == location)
        cases: dict[int, StoredCase] = {}
        with self._sessions() as session:
            for row in session.execute(query).mappings():
                case = cases.setdefault(row["case_id"], StoredCase(row["case_id"], row["location"]))
                call = case.calls.setdefault(row["call_id"], _stored_call(row))
                if row["kind"] is not None:
                    call.events.append((row["kind"], utc(row["at"]), dict(row["detail"] or {})))
        return list(cases.values())


def _stored_call(row: Any) -> StoredCall:
    return StoredCall(row["organisation"] or None, row["topic"] or None, row["line_kind"], row["outcome"],
                      row["referred_organisation"])
