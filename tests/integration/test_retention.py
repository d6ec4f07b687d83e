"""The retention job on SQLite and PostgreSQL: each category goes when its period has passed, nothing
sooner, a dry run changes nothing, a second run finds nothing, rollups keep their counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.call_tables import CallEventRow, CallRow
from callrouter.adapters.sql.callback_repository import SqlCallbackStore
from callrouter.adapters.sql.callback_tables import CallbackEventRow, CallbackRow
from callrouter.adapters.sql.case_tables import CaseRow
from callrouter.adapters.sql.directory_tables import LiaisonRow
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.retention_repository import SqlRetentionStore
from callrouter.adapters.sql.staff_tables import ConversationOutcomeRow, StaffAccountRow
from callrouter.adapters.sql.stats_repository import SqlStatsStore
from callrouter.adapters.sql.stats_tables import CallStatsRow
from callrouter.domain.callbacks import CallbackState
from callrouter.domain.calls import CallMove, CallRecord, CallState, EventKind
from callrouter.domain.retention import RetentionPolicy
from callrouter.services.retention import RetentionDeps, run_retention
from callrouter.services.statistics import statistics
from callrouter.services.statistics.statistics import IntervalRetired, StatsDeps
from tests.integration.conftest import directory_database

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy(callback_number_days=7, voice_message_days=7, conversation_note_days=90,
                         call_record_days=400)
NUMBER = "+31612345601"


class Clock:
    def __init__(self, moment: datetime):
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


@dataclass
class FakeRecordings:
    deleted: list[str] = field(default_factory=list)
    fail: bool = False

    def delete_recording(self, sid: str) -> bool:
        if self.fail:
            raise ConnectionError("Twilio unreachable")
        self.deleted.append(sid)
        return True


@dataclass
class World:
    sessions: object
    calls: SqlCallStore
    callbacks: SqlCallbackStore
    recordings: FakeRecordings
    clock: Clock
    liaison_id: int
    account_id: int

    def deps(self) -> RetentionDeps:
        return RetentionDeps(store=SqlRetentionStore(self.sessions, batch=2), recordings=self.recordings,
                             clock=self.clock, policy=POLICY)

    def call(self, sid: str, *, days_ago: float, ended: bool = True, note: str = "") -> int:
        start = NOW - timedelta(days=days_ago)
        record, _ = self.calls.open_call(CallRecord(
            sid=sid, line_number="+31850001000", line_kind="professional", caller_pseudonym="p",
            caller_masked="+316****01", state=CallState.MENU, received_at=start, organisation="UWV", topic="ww",
            location="AMS"), detail={})
        self.calls.apply(sid, event=EventKind.QUEUED, at=start + timedelta(seconds=10), detail={})
        self.calls.apply(sid, event=EventKind.ANSWERED, at=start + timedelta(seconds=20), detail={}, dedupe="answered")
        if ended:
            self.calls.apply(sid, event=EventKind.COMPLETED, at=start + timedelta(seconds=200),
                             detail={"status": "completed"}, dedupe="ended", move=CallMove.END)
        call_id = self._call_id(sid)
        if note:
            with self.sessions.begin() as session:  # type: ignore[attr-defined]
                session.add(ConversationOutcomeRow(
                    call_id=call_id, liaison_id=self.liaison_id, outcome="resolved", note=note,
                    recorded_at=start + timedelta(seconds=300), updated_at=start + timedelta(seconds=300),
                    recorded_by=self.account_id))
        return call_id

    def _call_id(self, sid: str) -> int:
        with self.sessions() as session:  # type: ignore[operator]
            return int(session.scalar(select(CallRow.id).where(CallRow.sid == sid)))

    def callback(self, key: str, *, created_days_ago: float, closed_days_ago: float | None,
                 message: str | None = None) -> int:
        created = NOW - timedelta(days=created_days_ago)
        values = {"state": CallbackState.SCHEDULED, "origin": "in_queue", "organisation": "UWV", "topic": "ww",
                  "priority_class": "pro", "phone_number": NUMBER, "line_number": "+31850001000",
                  "place_at": created, "due_at": created, "expires_at": created + timedelta(hours=48),
                  "attempts": 0, "max_attempts": 3, "created_at": created, "location": "AMS",
                  "voice_message_url": message}
        callback, _ = self.callbacks.create(values, open_key=key, cause="test")
        if closed_days_ago is not None:
            assert self.callbacks.move(callback.id, to=CallbackState.COMPLETED, cause="test",
                                       at=NOW - timedelta(days=closed_days_ago), expect=frozenset(CallbackState))
        return callback.id

    def case(self, *, last_days_ago: float, calls: list[int]) -> int:
        last = NOW - timedelta(days=last_days_ago)
        with self.sessions.begin() as session:  # type: ignore[attr-defined]
            case = CaseRow(caseworker_id=1, location="AMS", reference="hmac", opened_at=last, local_day=last.date(),
                           last_call_at=last, calls=len(calls))
            session.add(case)
            session.flush()
            for call_id in calls:
                session.get(CallRow, call_id).case_id = case.id
            return int(case.id)

    def row(self, table, row_id: int):  # type: ignore[no-untyped-def]
        with self.sessions() as session:  # type: ignore[operator]
            return session.get(table, row_id)

    def count(self, table) -> int:  # type: ignore[no-untyped-def]
        with self.sessions() as session:  # type: ignore[operator]
            return int(session.scalar(select(func.count()).select_from(table)))


@pytest.fixture()
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    directory_database(database_url, tmp_path, open_all_hours=True)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        liaison_id = session.scalar(select(LiaisonRow.id).limit(1))
        account = StaffAccountRow(issuer="https://idp.example", subject="lead", created_at=NOW)
        session.add(account)
        session.flush()
        account_id = account.id
    yield World(sessions, SqlCallStore(sessions), SqlCallbackStore(sessions), FakeRecordings(), Clock(NOW),
                int(liaison_id), int(account_id))
    engine.dispose()


RE = "RE" + "0" * 31 + "1"
RE2 = "RE" + "0" * 31 + "2"


def test_each_category_goes_when_its_period_has_passed_and_not_sooner(world: World) -> None:
    old_closed = world.callback("a", created_days_ago=9, closed_days_ago=8,
                                message=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{RE}")
    recent_closed = world.callback("b", created_days_ago=7, closed_days_ago=6,
                                   message=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{RE2}")
    old_open = world.callback("c", created_days_ago=30, closed_days_ago=None)  # still open: keeps its number
    old_note = world.call("n1", days_ago=91, note="Belt terug over de beschikking van 3 maart")
    new_note = world.call("n2", days_ago=89, note="Vervolg volgende week")
    ancient = world.call("x1", days_ago=401, note="oud")
    ancient_open = world.call("x2", days_ago=402, ended=False)  # never ended: kept and reported
    ancient_callback = world.callback("d", created_days_ago=401, closed_days_ago=400)
    ancient_case = world.case(last_days_ago=401, calls=[ancient])
    kept_case = world.case(last_days_ago=402, calls=[ancient_open])  # a kept call still points at it
    recent_case = world.case(last_days_ago=10, calls=[new_note])
    events_before = world.count(CallEventRow)

    dry = run_retention(world.deps(), dry_run=True)
    assert (dry.callback_numbers_masked, dry.voice_messages_deleted, dry.notes_emptied, dry.calls_deleted,
            dry.callbacks_deleted, dry.cases_deleted, dry.open_calls_kept) == (2, 1, 2, 1, 1, 2, 1)
    assert world.row(CallbackRow, old_closed).phone_number == NUMBER and world.recordings.deleted == []
    assert world.count(CallEventRow) == events_before  # the dry run changed nothing

    report = run_retention(world.deps())
    assert (report.callback_numbers_masked, report.voice_messages_deleted, report.notes_emptied,
            report.calls_deleted, report.callbacks_deleted, report.cases_deleted,
            report.open_calls_kept) == (2, 1, 2, 1, 1, 1, 1)
    assert world.row(CaseRow, ancient_case) is None
    assert world.row(CaseRow, kept_case) is not None and world.row(CaseRow, recent_case) is not None
    assert world.row(CallbackRow, old_closed).phone_number == "+316******01"
    assert world.row(CallbackRow, old_closed).voice_message_url is None
    assert world.recordings.deleted == [RE]
    assert world.row(CallbackRow, recent_closed).phone_number == NUMBER
    assert world.row(CallbackRow, recent_closed).voice_message_url.endswith(RE2)
    assert world.row(CallbackRow, old_open).phone_number == NUMBER
    assert world.row(CallbackRow, ancient_callback) is None
    with world.sessions() as session:  # type: ignore[operator]
        notes = dict(session.execute(select(ConversationOutcomeRow.call_id, ConversationOutcomeRow.note)).all())
        assert session.scalar(select(func.count()).select_from(CallbackEventRow)
                              .where(CallbackEventRow.callback_id == ancient_callback)) == 0
        assert session.scalar(select(func.count()).select_from(CallEventRow)
                              .where(CallEventRow.call_id == ancient)) == 0
    assert notes == {old_note: "", new_note: "Vervolg volgende week"}  # the ancient call's outcome went with it
    assert world.row(CallRow, ancient) is None and world.row(CallRow, ancient_open) is not None

    again = run_retention(world.deps())
    assert (again.callback_numbers_masked, again.voice_messages_deleted, again.notes_emptied, again.calls_deleted,
            again.callbacks_deleted, again.cases_deleted) == (0, 0, 0, 0, 0, 0)


def test_a_recording_twilio_could_not_delete_keeps_its_link_for_the_next_run(world: World) -> None:
    url = f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{RE}"
    callback = world.callback("a", created_days_ago=9, closed_days_ago=8, message=url)
    world.recordings.fail = True
    report = run_retention(world.deps())
    assert (report.voice_messages_deleted, report.voice_messages_failed) == (0, 1)
    assert world.row(CallbackRow, callback).voice_message_url == url
    world.recordings.fail = False
    assert run_retention(world.deps()).voice_messages_deleted == 1
    assert world.recordings.deleted == [RE]


def test_rollups_of_deleted_calls_keep_their_counts_and_are_never_recomputed(world: World) -> None:
    world.call("x1", days_ago=401)
    stats = StatsDeps(store=SqlStatsStore(world.sessions), clock=Clock(NOW - timedelta(days=401)))  # type: ignore[arg-type]
    moment = NOW - timedelta(days=401)
    statistics.rollup_since(stats, since=moment, until=moment + timedelta(minutes=5))
    with world.sessions() as session:  # type: ignore[operator]
        before = session.scalar(select(func.sum(CallStatsRow.answered)))
    assert before == 1

    assert run_retention(world.deps()).calls_deleted == 1
    later = StatsDeps(store=SqlStatsStore(world.sessions), clock=Clock(NOW),  # type: ignore[arg-type]
                      history_kept_days=POLICY.call_record_days)
    assert statistics.rollup_since(later, since=moment, until=moment + timedelta(minutes=5)) == 0
    with pytest.raises(IntervalRetired):
        statistics.rollup_interval(later, start=statistics.interval_start(moment, zone=later.zone))
    with world.sessions() as session:  # type: ignore[operator]
        assert session.scalar(select(func.sum(CallStatsRow.answered))) == before


def test_policy_refuses_periods_that_make_no_sense() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        RetentionPolicy(callback_number_days=0)
    with pytest.raises(ValueError, match="call records"):
        RetentionPolicy(conversation_note_days=500, call_record_days=400)


def test_the_cli_shows_the_register_and_runs_dry(world: World, database_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from callrouter.cli import app

    world.callback("a", created_days_ago=30, closed_days_ago=20)
    monkeypatch.setenv("CALLROUTER_DATABASE_URL", database_url)
    monkeypatch.setenv("CALLROUTER_RETENTION_CALLBACK_NUMBER_DAYS", "10")
    shown = CliRunner().invoke(app, ["retention", "show"])
    assert shown.exit_code == 0 and "callback_number: 10 days after the callback closed" in shown.output
    dry = CliRunner().invoke(app, ["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "callback_numbers_masked: 1" in dry.output and "dry_run: True" in dry.output
    with world.sessions() as session:  # type: ignore[operator]
        assert session.scalar(select(CallbackRow.phone_number)) == NUMBER
