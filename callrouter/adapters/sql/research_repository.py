"""The research export's reads: the calls of a period in batches (keyset on the received_at index, each batch's
range starting at the last call read), each batch with its events, the liaisons' results and the organisations
of the batch's cases. Four queries per batch, each the same cost wherever the batch is in the period; nothing of
earlier batches is kept.

Never read: the caller's number (or its masked form or pseudonym), the caseworker, the liaison, the note.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import ColumnElement, String, and_, or_, select, type_coerce
from sqlalchemy.orm import Session, sessionmaker

from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.adapters.sql.reading import utc
from callrouter.adapters.sql.staff_tables import ConversationOutcomeRow
from callrouter.domain.research import ResearchCall
from callrouter.domain.statistics import Event

_CALLS = CallRow.__table__
_EVENTS = CallEventRow.__table__
_OUTCOMES = ConversationOutcomeRow.__table__


def _moment(value: object) -> datetime:
    """A stored moment as UTC; SQLite's text is parsed here (much faster than the generic result processor)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return utc(value)


@lru_cache(maxsize=512)
def _parsed(text: str) -> dict[str, object]:
    parsed = json.loads(text)
    return parsed if isinstance(parsed, dict) else {}


def _detail(value: object) -> dict[str, object]:
    """An event's detail (read only: the parsed form of a text is shared between the events that have it)."""
    if value is None or value == "{}":
        return {}
    if isinstance(value, str):
        return _parsed(value)
    return dict(value) if isinstance(value, dict) else {}


def _after(last: tuple[datetime, int] | None, *, start: datetime) -> list[ColumnElement[bool]]:
    """The calls after the last one read (received_at, id), or from the period's start for the first batch.

    The last moment read replaces the period's start as the index range's lower bound, rather than joining it:
    SQLite uses one lower bound of a range and took the start, so batch n walked the n - 1 batches before it
    and the export's time grew with the square of its rows (PostgreSQL's plan did the same).
    """
    c = _CALLS.c
    if last is None:
        return [c.received_at >= utc(start)]
    at, call_id = last
    return [c.received_at >= at, or_(c.received_at > at, and_(c.received_at == at, c.id > call_id))]


class SqlResearchSource:
    def __init__(self, session_factory: sessionmaker[Session]):
        self._sessions = session_factory

    def calls(self, *, start: datetime, end: datetime, batch: int) -> Iterator[list[ResearchCall]]:
        c = _CALLS.c
        last: tuple[datetime, int] | None = None
        while True:
            query = (select(c.id, c.received_at, c.location, c.organisation, c.topic, c.line_kind, c.case_id)
                     .where(*_after(last, start=start), c.received_at < utc(end))
                     .order_by(c.received_at, c.id).limit(batch))
            with self._sessions() as session:
                rows = session.execute(query).all()
                if not rows:
                    return
                ids = [row.id for row in rows]
                events: dict[int, list[Event]] = defaultdict(list)
                # Read as they are stored (text on SQLite), converted by _moment and _detail: the bulk of the rows.
                for call_id, kind, at, detail in session.execute(
                        select(_EVENTS.c.call_id, _EVENTS.c.kind, type_coerce(_EVENTS.c.at, String),
                               type_coerce(_EVENTS.c.detail, String))
                        .where(_EVENTS.c.call_id.in_(ids)).order_by(_EVENTS.c.call_id, _EVENTS.c.id)):
                    events[call_id].append((kind, _moment(at), _detail(detail)))
                results = {row.call_id: (row.outcome, row.referred_organisation) for row in session.execute(
                    select(_OUTCOMES.c.call_id, _OUTCOMES.c.outcome, _OUTCOMES.c.referred_organisation)
                    .where(_OUTCOMES.c.call_id.in_(ids)))}
                case_ids = sorted({row.case_id for row in rows if row.case_id is not None})
                organisations: dict[int, set[str]] = defaultdict(set)
                if case_ids:
                    for case_id, organisation in session.execute(
                            select(c.case_id, c.organisation).distinct()
                            .where(c.case_id.in_(case_ids), c.organisation.is_not(None))):
                        organisations[case_id].add(organisation)
            yield [ResearchCall(id=row.id, received_at=utc(row.received_at), location=row.location,
                                organisation=row.organisation, topic=row.topic, line_kind=row.line_kind,
                                events=events.get(row.id, []),
                                liaison_result=results.get(row.id, (None, None))[0],
                                referred_organisation=results.get(row.id, (None, None))[1], case_id=row.case_id,
                                case_organisations=tuple(sorted(organisations.get(row.case_id, ())))
                                if row.case_id is not None else ())
                   for row in rows]
            if len(rows) < batch:
                return
            last = (rows[-1].received_at, rows[-1].id)
