"""The research export on SQLite and PostgreSQL: a researcher token or staff role downloads pseudonymised rows per
call (CSV and JSON, streamed), each download is in the audit log, other roles are refused, and a period longer
than call records are kept is refused naming the field.

The calls: Wednesday 25 November 2026 in Amsterdam (tests/integration/test_dashboard.py's call helper):
  r1 UWV ww AMS, waits 15 s, answered, talks 60 s; the liaison refers it to SVB; case 1 with r2
  r2 SVB aow AMS, waits 30 s, answered (same caseworker, same case)
  r3 DUO studiefinanciering UTR, hangs up after 90 s in the queue; case 2 alone
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callrouter.adapters.sql.call_repository import SqlCallStore
from callrouter.adapters.sql.case_repository import SqlCaseStore
from callrouter.adapters.sql.outcome_repository import SqlOutcomes
from callrouter.adapters.sql.research_repository import SqlResearchSource
from callrouter.domain.research import COLUMNS, pseudonym
from callrouter.domain.staff import ConversationResult, Grant, Role
from callrouter.services.statistics import research
from tests.integration.conftest import App
from tests.integration.staff_fixtures import Staff
from tests.integration.test_dashboard import START, abandoned, answered, call
from tests.staff_login import authorize

RESEARCH_TOKEN = "research-token"
ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("+316", "caller", "note", "naam", "name")


def three_calls(app: App) -> None:
    sessions = app.container.sessions
    calls, cases = SqlCallStore(sessions), SqlCaseStore(sessions)
    call(calls, "r1", 0, "UWV", "ww", "AMS", "professional", answered(15))
    call(calls, "r2", 5, "SVB", "aow", "AMS", "professional", answered(30))
    call(calls, "r3", 10, "DUO", "studiefinanciering", "UTR", "professional", abandoned(90))
    for sid, minute, worker, location in (("r1", 0, 1, "AMS"), ("r2", 5, 1, "AMS"), ("r3", 10, 2, "UTR")):
        cases.attach(call_sid=sid, caseworker_id=worker, location=location, reference=None,
                     at=START + timedelta(minutes=minute))
    account = app.container.parts.staff_accounts.grant(issuer="https://login.example", subject="jan", by="test",
                                                       at=datetime.now(UTC), grant=Grant(Role.ADMIN))
    jan = app.container.directory.liaison_by_code("uwv-jan")
    assert jan is not None
    SqlOutcomes(sessions).save(call_sid="r1", liaison_id=jan.id, result=ConversationResult.REFERRED,
                               referred_organisation="SVB", note="belde over Jansen, 0612345678",
                               at=START + timedelta(minutes=3), by=account.id)


def researcher_app(app_factory) -> App:  # type: ignore[no-untyped-def]  # noqa: ANN001
    return app_factory(api_tokens=f"admin-token:admin:*,{RESEARCH_TOKEN}:researcher:*")


def test_a_researcher_token_downloads_one_pseudonymised_row_per_call(app_factory) -> None:  # noqa: ANN001
    app = researcher_app(app_factory)
    three_calls(app)
    response = app.api("GET", "/api/research/calls?from=2026-11-25&to=2026-11-25&format=csv", token=RESEARCH_TOKEN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "callrouter-onderzoek-2026-11-25-2026-11-25.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == list(COLUMNS)
    assert [r["organisation"] for r in rows] == ["UWV", "SVB", "DUO"]
    first, second, third = rows
    assert (first["counter"], first["topic"], first["line_kind"]) == ("AMS", "ww", "professional")
    assert (first["wait_seconds"], first["talk_seconds"], first["outcome"]) == ("15.0", "60.0", "answered")
    assert (first["liaison_result"], first["referred_to"]) == ("referred", "SVB")
    assert first["received_at"] == "2026-11-25T09:00:00+01:00" and first["answered_at"] == "2026-11-25T09:00:25+01:00"
    assert first["case"] == second["case"] != third["case"]
    assert first["case_organisations"] == "SVB;UWV" and first["case_multi_organisation"] == "true"
    assert (third["case_organisations"], third["case_multi_organisation"]) == ("DUO", "false")
    assert (third["outcome"], third["wait_seconds"], third["talk_seconds"]) == ("abandoned_in_queue", "90.0", "")
    assert all(r["caseworker_verdict"] == "" and r["transfer_chain"] == "" for r in rows)
    key = app.container.settings.pseudonym_key.get_secret_value().encode()
    ids = sorted(app.container.parts.drilldown.call(sid).id for sid in ("r1", "r2", "r3"))  # type: ignore[union-attr]
    assert [r["call"] for r in rows] == [pseudonym("call", i, key=key) for i in ids]
    assert not any(str(i) == r["call"] for i in ids for r in rows)
    for word in FORBIDDEN:  # no number (masked or not), no note, no name
        assert word not in response.text.lower()
    assert "jansen" not in response.text.lower()

    as_json = app.api("GET", "/api/research/calls?from=2026-11-25&to=2026-11-25&format=json", token=RESEARCH_TOKEN)
    body = json.loads(as_json.text)
    assert body["columns"] == list(COLUMNS) and body["period"]["first_day"] == "2026-11-25"
    assert [r["organisation"] for r in body["rows"]] == ["UWV", "SVB", "DUO"]
    assert body["rows"][0]["case_multi_organisation"] is True and body["rows"][2]["talk_seconds"] is None

    entries = app.container.parts.audit.entries(action="export")
    assert len(entries) == 2 and {e.filters["format"] for e in entries} == {"csv", "json"}
    assert all(e.target == "/api/research/calls" and e.account_id == 0 and e.filters["api_token"].startswith("sha256:")
               and RESEARCH_TOKEN not in json.dumps(e.filters) for e in entries)


def test_a_bad_period_is_refused_naming_the_field_and_nothing_is_logged(app_factory) -> None:  # noqa: ANN001
    app = researcher_app(app_factory)
    kept = app.container.settings.retention_call_record_days
    last = (datetime(2026, 1, 1) + timedelta(days=kept)).date().isoformat()
    for query, field in ((f"from=2026-01-01&to={last}", "to"), ("from=2026-11-25&to=2026-11-24", "to"),
                         ("from=25-11-2026&to=2026-11-25", "from"), ("from=2026-11-25&to=2026-11-25&format=xls",
                                                                     "format")):
        response = app.api("GET", f"/api/research/calls?{query}", token=RESEARCH_TOKEN)
        assert response.status_code == 422, query
        assert response.json()["field"] == field, query
    assert "kept" in app.api("GET", f"/api/research/calls?from=2026-01-01&to={last}",
                             token=RESEARCH_TOKEN).json()["detail"]
    assert app.container.parts.audit.entries() == []


def test_other_tokens_may_not_download_and_a_researcher_token_does_nothing_else(app_factory) -> None:  # noqa: ANN001
    app = researcher_app(app_factory)
    assert app.api("GET", "/api/research/calls?from=2026-11-25&to=2026-11-25").status_code == 403  # admin
    assert app.api("GET", "/api/research/calls?from=2026-11-25&to=2026-11-25", token=None).status_code == 401
    assert app.api("GET", "/api/queues/UWV", token=RESEARCH_TOKEN).status_code == 403
    jan = app.container.directory.liaison_by_code("uwv-jan")
    assert jan is not None
    path = f"/api/liaisons/{jan.id}/presence"
    assert app.api("PUT", path, token=RESEARCH_TOKEN, json={"status": "available"}).status_code == 403
    assert app.api("GET", path).json()["status"] == "offline"
    assert app.container.parts.audit.entries() == []


def test_a_researcher_downloads_from_the_staff_page_and_others_may_not(staff: Staff) -> None:
    three_calls(staff.app)
    staff.web.accounts.grant(issuer=staff.issuers[0], subject="onderzoek", grant=Grant(Role.RESEARCHER),
                             by="test", at=datetime.now(UTC))
    staff.login("onderzoek")
    page = staff.client.get("/staff/onderzoek")
    assert page.status_code == 200 and "Onderzoeksexport" in page.text
    response = staff.client.get("/staff/onderzoek?van=2026-11-25&tot=2026-11-25&format=csv")
    assert response.status_code == 200
    assert [r["organisation"] for r in csv.DictReader(io.StringIO(response.text))] == ["UWV", "SVB", "DUO"]
    [entry] = staff.app.container.parts.audit.entries(action="export")
    assert entry.target == "/staff/onderzoek" and entry.filters["van"] == "2026-11-25"

    refused = staff.client.get("/staff/onderzoek?van=2026-11-25&tot=2026-11-01&format=csv")
    assert refused.status_code == 422 and refused.json()["field"] == "tot"
    page = staff.client.get("/staff/onderzoek?van=2025-01-01&tot=2026-11-25")
    assert page.status_code == 422 and "veld: tot" in page.text
    assert len(staff.app.container.parts.audit.entries(action="export")) == 1

    staff.web.accounts.grant(issuer=staff.issuers[0], subject="super", grant=Grant(Role.SUPERVISOR), by="test",
                             at=datetime.now(UTC))
    staff.client.cookies.clear()
    staff.callback(authorize(staff.start(), "super"))
    assert staff.client.get("/staff/onderzoek?van=2026-11-25&tot=2026-11-25&format=csv").status_code == 403


def test_the_stream_reads_in_batches(app: App) -> None:
    """More calls than one batch: every call once, in order of arrival."""
    store = SqlCallStore(app.container.sessions)
    for n in range(7):
        call(store, f"b{n}", n, "UWV", "ww", "AMS", "professional", answered(5))
    source = SqlResearchSource(app.container.sessions)
    start, end = START, START + timedelta(hours=1)
    batches = list(source.calls(start=start, end=end, batch=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    arrivals = [c.received_at for b in batches for c in b]
    assert arrivals == sorted(arrivals) and len({c.id for b in batches for c in b}) == 7



def test_calls_that_arrived_at_the_same_moment_are_each_read_once_across_batches(app: App) -> None:
    """The keyset (received_at, id) pages through ties: five calls in one second, read three at a time."""
    store = SqlCallStore(app.container.sessions)
    for n in range(5):
        call(store, f"t{n}", 0, "UWV", "ww", "AMS", "professional", answered(5))
    call(store, "t5", 1, "UWV", "ww", "AMS", "professional", answered(5))
    source = SqlResearchSource(app.container.sessions)
    batches = list(source.calls(start=START, end=START + timedelta(hours=1), batch=3))
    ids = [c.id for b in batches for c in b]
    assert [len(b) for b in batches] == [3, 3]
    assert ids[:5] == sorted(ids[:5]) and len(set(ids)) == 6


def test_a_late_batch_costs_what_an_early_one_costs(app: App) -> None:
    """On SQLite, counted in virtual machine steps: each batch's calls query starts its index range at the last
    call read, so the last batch of a period does not walk the batches before it (it did: the export's time grew
    with the square of its rows)."""
    if not app.container.settings.database_url.startswith("sqlite"):
        pytest.skip("steps are counted with SQLite's progress handler (PostgreSQL: see docs/research-export.md)")
    from sqlalchemy import event

    store = SqlCallStore(app.container.sessions)
    for n in range(120):
        call(store, f"s{n}", n // 4, "UWV", "ww", "AMS", "professional", [])
    steps = [0]
    marks: list[tuple[str, int]] = []

    def count() -> int:
        steps[0] += 1
        return 0

    def mark(conn, cursor, statement, *_: object) -> None:  # type: ignore[no-untyped-def]  # noqa: ANN001
        conn.connection.dbapi_connection.set_progress_handler(count, 1)
        marks.append((statement, steps[0]))

    engine = app.container.sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", mark)
    try:
        batches = list(SqlResearchSource(app.container.sessions).calls(start=START, end=START + timedelta(hours=1),
                                                                       batch=10))
    finally:
        event.remove(engine, "before_cursor_execute", mark)
    assert sum(len(b) for b in batches) == 120
    pages = [after - before for (statement, before), (_, after) in zip(marks, marks[1:], strict=False)
             if "FROM calls" in statement and "LIMIT" in statement]
    assert len(pages) == 12
    assert pages[-1] <= 1.5 * pages[1], pages

def test_the_data_dictionary_defines_every_column() -> None:
    text = (ROOT / "docs" / "research-export.md").read_text()
    for column in COLUMNS:
        assert f"| `{column}` |" in text, column


def test_the_previous_week_is_monday_to_sunday() -> None:
    from datetime import date

    assert research.previous_week(date(2026, 12, 2)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert research.previous_week(date(2026, 11, 30)) == (date(2026, 11, 23), date(2026, 11, 29))


def test_the_weekly_job_writes_the_previous_week_once(database_url: str, redis_url: str, redis, tmp_path: Path,  # noqa: ANN001
                                                      monkeypatch) -> None:  # noqa: ANN001
    from rq import Queue, SimpleWorker
    from rq.cron import CronScheduler

    from tests.integration.conftest import directory_database
    from workers import jobs
    from workers.research_jobs import write_weekly_export

    directory_database(database_url, tmp_path, open_all_hours=True)
    folder = tmp_path / "onderzoek"
    for name, value in (("DATABASE_URL", database_url), ("REDIS_URL", redis_url), ("ENVIRONMENT", "test"),
                        ("RESEARCH_EXPORT_DIR", str(folder))):
        monkeypatch.setenv(f"CALLROUTER_{name}", value)
    jobs.container.cache_clear()
    try:
        store = SqlCallStore(jobs.container().sessions)
        call(store, "w1", 0, "UWV", "ww", "AMS", "professional", answered(15))  # Wednesday 25 November
        call(store, "w2", 0, "UWV", "ww", "AMS", "professional", answered(5), day_start=START + timedelta(days=7))
        queue = Queue(jobs.QUEUE, connection=redis)
        first = queue.enqueue(write_weekly_export, "2026-12-02")
        again = queue.enqueue(write_weekly_export, "2026-12-03")
        SimpleWorker([queue], connection=redis).work(burst=True)
        target = folder / "callrouter-onderzoek-2026-11-23-2026-11-29.csv"
        assert first.latest_result().return_value == str(target)  # type: ignore[union-attr]
        assert again.latest_result().return_value.startswith("already there")  # type: ignore[union-attr]
        rows = list(csv.DictReader(io.StringIO(target.read_text())))
        assert len(rows) == 1 and rows[0]["received_at"].startswith("2026-11-25")  # not next week's call
        assert [p.name for p in folder.iterdir()] == [target.name]  # no partial file left
        [entry] = jobs.container().parts.audit.entries(action="export")
        assert entry.filters["job"] == "weekly" and entry.account_id == 0

        scheduler = CronScheduler(connection=redis)
        scheduler.load_config_from_file(str(ROOT / "workers" / "cron.py"))
        assert any(j.func is write_weekly_export for j in scheduler.get_jobs())
    finally:
        if jobs.container.cache_info().currsize:
            jobs.container().close()
        jobs.container.cache_clear()


def test_the_benchmark_runs_on_a_small_size(capsys: pytest.CaptureFixture[str]) -> None:
    """tests/benchmarks/bench_research.py (make bench) at 40 calls a day for 6 days: it generates, exports in
    processes of their own and prints its ratios (the targets are for the full size, not judged here)."""
    from tests.benchmarks import bench_research

    assert bench_research.main(["--calls-per-day", "40", "--days", "6"]) in (0, 1)
    out = capsys.readouterr().out
    assert "240 calls" in out and "time per row year/week" in out and "peak memory year/week" in out
    assert "       200" in out.replace(",", "")  # the week's 5 days of 40 calls were all exported
