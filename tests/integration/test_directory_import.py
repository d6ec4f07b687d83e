"""Importing the directory file and reading it back, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
import yaml
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from callrouter.adapters.directory_yaml import DirectoryFileInvalid
from callrouter.adapters.pins import Argon2Pins
from callrouter.adapters.sql.base import Base
from callrouter.adapters.sql.directory_import import ImportReport, import_directory
from callrouter.adapters.sql.directory_repository import SqlDirectory
from callrouter.adapters.sql.directory_tables import CaseworkerPhoneRow, CaseworkerRow, LiaisonRow, LocationRow
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.cli.directory import app as directory_app
from callrouter.domain.directory import Caseworker, Liaison, Line, LineKind, Location, Organisation

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo" / "directory.yaml"
BAD = ROOT / "tests" / "fixtures" / "directory_bad.yaml"
DIRECTORY_TABLES = [
    "organisations", "topics", "locations", "location_organisations", "caseworkers",
    "caseworker_phones", "liaisons", "liaison_topics", "lines", "line_organisations",
]  # fmt: skip
# Cheap argon2 parameters: the tests check that PINs are hashed, not how slowly.
HASHER = Argon2Pins(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture()
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def import_file(path: Path, sessions: sessionmaker[Session]) -> ImportReport:
    return import_directory(path=path, session_factory=sessions, hasher=HASHER)


def row_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            name: session.scalar(select(func.count()).select_from(Base.metadata.tables[name])) or 0
            for name in DIRECTORY_TABLES
        }


def edited_demo(tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_demo_imports(sessions: sessionmaker[Session]) -> None:
    report = import_file(DEMO, sessions)
    created = {kind: counts.created for kind, counts in report.counts.items()}
    assert created == {"organisations": 7, "topics": 23, "locations": 3, "caseworkers": 10, "liaisons": 16, "lines": 8}
    assert row_counts(sessions)["caseworker_phones"] == 10


def test_reads_return_the_domain_objects(sessions: sessionmaker[Session]) -> None:
    import_file(DEMO, sessions)
    directory = SqlDirectory(sessions, ttl_seconds=5)

    assert [org.code for org in directory.organisations_at("AMS")] == ["UWV", "TSL", "DUO", "SVB", "CJIB", "CAK", "IND"]
    assert [org.code for org in directory.organisations_at("UTR")] == ["UWV", "TSL", "DUO", "SVB"]
    assert [org.code for org in directory.organisations_at("ENS")] == ["UWV", "TSL", "CJIB"]
    assert directory.organisations_at("ROT") == []
    assert directory.location("UTR") == Location("UTR", "Utrecht", ("UWV", "TSL", "DUO", "SVB"))

    uwv = directory.organisation("UWV")
    assert isinstance(uwv, Organisation)
    assert uwv.public_phone == "+31888989294"
    assert [(t.code, t.name_nl, t.name_en) for t in uwv.topics][0] == ("ww", "WW-uitkering", "unemployment benefit")
    assert [t.code for t in uwv.topics] == ["ww", "wia", "ziektewet"]
    assert uwv.hours.weekly[0] == uwv.hours.weekly[4] and 5 not in uwv.hours.weekly
    assert [org.code for org in directory.all_organisations()] == ["CAK", "CJIB", "DUO", "IND", "SVB", "TSL", "UWV"]

    assert directory.line_by_number("+31850001000") == Line("+31850001000", LineKind.PROFESSIONAL, (), "Professionallijn",
                                                            verdict_question=True)  # the demo line asks it
    citizen = directory.line_by_number("+31850001101")
    assert citizen is not None and citizen.kind is LineKind.CITIZEN and citizen.organisations == ("UWV",)
    assert directory.line_by_number("+31850009999") is None

    by_phone = directory.caseworker_by_phone("+31205550102")
    assert isinstance(by_phone, Caseworker)
    assert (by_phone.code, by_phone.location, by_phone.phone_numbers) == ("1002", "AMS", ("+31205550102", "+31612345602"))
    assert directory.caseworker_by_code("1002") == by_phone
    assert directory.caseworker_by_code("1004") is not None and directory.caseworker_by_code("1004").phone_numbers == ()
    assert directory.caseworker_by_phone("+31699999999") is None

    hasan = directory.liaison_by_code("uwv-hasan")
    assert isinstance(hasan, Liaison)
    assert (hasan.organisation, hasan.topics, hasan.address) == ("UWV", ("ww", "wia", "ziektewet"), "+31612345701")
    assert directory.liaison(hasan.id) == hasan
    assert {li.code for li in directory.liaisons_of("UWV")} == {"uwv-jan", "uwv-ingrid", "uwv-hasan"}
    assert directory.liaison(10_000) is None


def test_reimport_changes_nothing(sessions: sessionmaker[Session]) -> None:
    import_file(DEMO, sessions)
    before = row_counts(sessions)
    with sessions() as session:
        hashes = dict(session.execute(select(CaseworkerRow.code, CaseworkerRow.pin_hash)).all())

    report = import_file(DEMO, sessions)

    assert not report.changed
    assert all(c.created == c.updated == c.deactivated == c.deleted == 0 for c in report.counts.values())
    assert report.counts["caseworkers"].unchanged == 10 and report.counts["topics"].unchanged == 23
    assert row_counts(sessions) == before
    with sessions() as session:
        assert dict(session.execute(select(CaseworkerRow.code, CaseworkerRow.pin_hash)).all()) == hashes


def test_a_changed_file_updates_deactivates_and_deletes(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    import_file(DEMO, sessions)
    with sessions() as session:
        leaving_id = session.scalar(select(CaseworkerRow.id).where(CaseworkerRow.code == "3001"))

    def edit(data: dict[str, Any]) -> None:
        uwv = data["organisations"][0]
        uwv["topics"] = [t for t in uwv["topics"] if t["code"] != "ziektewet"]
        uwv["topics"][0]["en"] = "unemployment insurance"
        uwv["hours"]["sat"] = ["09:00-12:00"]
        uwv["hours"]["sun"] = ["20:00-24:00"]
        data["locations"] = [loc for loc in data["locations"] if loc["code"] != "ENS"]
        data["caseworkers"] = [cw for cw in data["caseworkers"] if not cw["code"].startswith("3")]
        moved = next(cw for cw in data["caseworkers"] if cw["code"] == "2001")
        moved["phones"] = ["06-12345601"]  # the number of 1001, who gets a new one
        data["caseworkers"][0]["phones"] = ["06-12345699"]
        data["liaisons"] = [li for li in data["liaisons"] if li["code"] != "uwv-ingrid"]
        next(li for li in data["liaisons"] if li["code"] == "uwv-hasan")["topics"] = ["ww", "wia"]
        data["lines"] = data["lines"][:-1]

    report = import_file(edited_demo(tmp_path, edit), sessions)

    counts = report.counts
    assert (counts["organisations"].updated, counts["organisations"].unchanged) == (1, 6)
    assert (counts["topics"].updated, counts["topics"].deleted, counts["topics"].unchanged) == (1, 1, 21)
    assert (counts["locations"].deactivated, counts["locations"].unchanged) == (1, 2)  # ENS: caseworkers remain
    assert (counts["caseworkers"].deactivated, counts["caseworkers"].updated, counts["caseworkers"].unchanged) == (3, 2, 5)
    # uwv-hasan lost "ziektewet" with the topic itself (counted as a deleted topic), so it is unchanged
    assert (counts["liaisons"].deactivated, counts["liaisons"].updated, counts["liaisons"].unchanged) == (1, 0, 15)
    assert (counts["lines"].deleted, counts["lines"].unchanged) == (1, 7)

    directory = SqlDirectory(sessions)
    assert directory.caseworker_by_phone("+31612345601").code == "2001"  # type: ignore[union-attr]
    assert directory.caseworker_by_phone("+31612345699").code == "1001"  # type: ignore[union-attr]
    assert directory.caseworker_by_code("3001") is None and directory.caseworker_by_phone("+31612345621") is None
    assert directory.liaison_by_code("uwv-ingrid") is None
    assert directory.liaison_by_code("uwv-hasan").topics == ("ww", "wia")  # type: ignore[union-attr]
    assert directory.location("ENS") is None
    assert directory.line_by_number("+31850001107") is None
    uwv = directory.organisation("UWV")
    assert uwv is not None and uwv.topics[0].name_en == "unemployment insurance" and 5 in uwv.hours.weekly
    assert uwv.hours.weekly[6] == ((time(20), time.max),)  # "24:00" survives the database
    assert uwv.hours.is_open(datetime(2026, 3, 8, 23, 59, 59, tzinfo=ZoneInfo("Europe/Amsterdam")))
    with sessions() as session:
        leaving = session.get_one(CaseworkerRow, leaving_id)  # kept for the call records, without personal data
        assert (leaving.active, leaving.pin_hash) == (False, None)
        assert session.scalar(select(func.count()).where(CaseworkerPhoneRow.caseworker_id == leaving_id)) == 0
        assert session.scalar(select(LiaisonRow.active).where(LiaisonRow.code == "uwv-ingrid")) is False
        assert session.scalar(select(LocationRow.active).where(LocationRow.code == "ENS")) is False

    again = import_file(DEMO, sessions)  # the original file brings everyone back, under the same ids
    assert again.counts["caseworkers"].updated == 5 and again.counts["locations"].updated == 1
    with sessions() as session:
        assert session.scalar(select(CaseworkerRow.id).where(CaseworkerRow.code == "3001")) == leaving_id
    assert import_file(DEMO, sessions).changed is False


def test_a_bad_file_reports_every_problem_and_writes_nothing(sessions: sessionmaker[Session]) -> None:
    import_file(DEMO, sessions)
    before = row_counts(sessions)

    with pytest.raises(DirectoryFileInvalid) as caught:
        import_file(BAD, sessions)

    assert len(caught.value.problems) >= 40
    assert f'{BAD}:96: liaison "uwv-jan": topic "ww2" is not a topic of UWV' in caught.value.messages
    assert row_counts(sessions) == before


def test_a_failure_while_writing_rolls_everything_back(sessions: sessionmaker[Session]) -> None:
    class FailingHasher:
        calls = 0

        def hash(self, pin: str) -> str:
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("hasher down")
            return HASHER.hash(pin)

        def verify(self, pin_hash: str, pin: str) -> bool:
            return HASHER.verify(pin_hash, pin)

    with pytest.raises(RuntimeError, match="hasher down"):
        import_directory(path=DEMO, session_factory=sessions, hasher=FailingHasher())
    assert set(row_counts(sessions).values()) == {0}


def test_pins_are_stored_only_as_argon2_hashes(sessions: sessionmaker[Session]) -> None:
    import_file(DEMO, sessions)
    with sessions() as session:
        stored = dict(session.execute(select(CaseworkerRow.code, CaseworkerRow.pin_hash)).all())
    clear = {"1001": "13572468", "1004": "86420531", "2001": "24681357", "2003": "97531864", "3001": "31415926"}
    for code, pin in clear.items():
        assert stored[code] is not None and stored[code].startswith("$argon2id$")  # type: ignore[union-attr]
        assert pin not in stored[code]  # type: ignore[operator]
        assert HASHER.verify(stored[code], pin)  # type: ignore[arg-type]
    assert HASHER.verify(stored["1002"], "24681357")  # given as pin_hash, stored as given
    assert stored["1003"] is None


def test_an_import_shows_within_the_cache_ttl(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    import_file(DEMO, sessions)
    now = [0.0]
    directory = SqlDirectory(sessions, ttl_seconds=5, clock=lambda: now[0])
    assert directory.liaison_by_code("uwv-jan") is not None

    import_file(edited_demo(tmp_path, lambda d: d.update(liaisons=d["liaisons"][1:])), sessions)
    assert directory.liaison_by_code("uwv-jan") is not None  # still cached
    now[0] = 5.0
    assert directory.liaison_by_code("uwv-jan") is None

    import_file(DEMO, sessions)
    directory.clear_cache()
    assert directory.liaison_by_code("uwv-jan") is not None


def cli() -> typer.Typer:
    """The sub-app mounted as the lead will mount it in `callrouter.cli`."""
    root = typer.Typer()
    root.add_typer(directory_app, name="directory")
    return root


def test_the_cli_rejects_a_bad_file_with_file_and_line(
    sessions: sessionmaker[Session], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLROUTER_DATABASE_URL", database_url)
    before = row_counts(sessions)

    result = CliRunner().invoke(cli(), ["directory", "import", str(BAD)])

    assert result.exit_code == 1
    assert f'{BAD}:96: liaison "uwv-jan": topic "ww2" is not a topic of UWV' in result.stderr
    assert re.search(r"^\d+ problem\(s\); nothing was written\.$", result.stderr, re.MULTILINE)
    assert row_counts(sessions) == before

    checked = CliRunner().invoke(cli(), ["directory", "check", str(BAD)])
    assert checked.exit_code == 1 and f"{BAD}:8: " in checked.stderr


def test_the_cli_imports_checks_and_hashes(
    sessions: sessionmaker[Session], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLROUTER_DATABASE_URL", database_url)

    checked = CliRunner().invoke(cli(), ["directory", "check", str(DEMO)])
    assert checked.exit_code == 0 and "valid: 7 organisations" in checked.stdout
    imported = CliRunner().invoke(cli(), ["directory", "import", str(DEMO)])
    assert imported.exit_code == 0 and "caseworkers: 10 created" in imported.stdout
    again = CliRunner().invoke(cli(), ["directory", "import", str(DEMO)])
    assert again.exit_code == 0 and "Nothing changed." in again.stdout

    hashed = CliRunner().invoke(cli(), ["directory", "hash-pin"], input="47114711\n47114711\n")
    assert hashed.exit_code == 0
    pin_hash = hashed.stdout.strip().splitlines()[-1]
    assert pin_hash.startswith("$argon2id$") and Argon2Pins().verify(pin_hash, "47114711")
    # 8 digits at least (docs/security.md): a 4-digit PIN is refused now
    assert CliRunner().invoke(cli(), ["directory", "hash-pin"], input="4711\n4711\n").exit_code == 1
    refused = CliRunner().invoke(cli(), ["directory", "hash-pin"], input="12\n12\n")
    assert refused.exit_code == 1
