"""Callback phone numbers are sealed at rest (AES-GCM under CALLROUTER_CALLBACK_NUMBER_KEY): SQL holds
ciphertext, the adapter and the retention job work with the number; migration 0008 seals old rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, text

from callrouter.adapters.sql import sealed
from callrouter.adapters.sql.callback_repository import SqlCallbackStore
from callrouter.adapters.sql.callback_tables import CallbackRow
from callrouter.adapters.sql.engine import make_engine, make_session_factory
from callrouter.adapters.sql.migrate import alembic_config, upgrade
from callrouter.config import DEV_CALLBACK_NUMBER_KEY
from callrouter.domain.callbacks import CallbackState

NUMBER = "+31612345601"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def stored_numbers(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT phone_number FROM callbacks ORDER BY id")).scalars())


def values() -> dict[str, object]:
    return {"state": CallbackState.SCHEDULED, "origin": "in_queue", "organisation": "UWV", "topic": "ww",
            "priority_class": "pro", "phone_number": NUMBER, "line_number": "+31850001000", "place_at": NOW,
            "due_at": NOW, "expires_at": NOW + timedelta(hours=48), "attempts": 0, "max_attempts": 3,
            "created_at": NOW}


def test_the_number_is_ciphertext_in_sql_and_the_number_in_the_adapter(database_url: str, engine: Engine) -> None:
    upgrade(database_url)
    store = SqlCallbackStore(make_session_factory(engine))
    callback, _ = store.create(values(), open_key="k1", cause="test")
    other, _ = store.create(values(), open_key="k2", cause="test")
    raw = stored_numbers(engine)
    assert all(value.startswith(sealed.PREFIX) and NUMBER not in value and "12345601" not in value for value in raw)
    assert raw[0] != raw[1]  # a fresh nonce each time
    assert store.get(callback.id).phone_number == NUMBER  # type: ignore[union-attr]
    assert store.in_states(frozenset({CallbackState.SCHEDULED}))[0].phone_number == NUMBER
    with make_session_factory(engine)() as session:
        assert session.get(CallbackRow, other.id).phone_number == NUMBER  # type: ignore[union-attr]
    moved = store.move(callback.id, to=CallbackState.COMPLETED, cause="test", at=NOW, expect=frozenset(CallbackState),
                       phone_number="+31612345699")
    assert moved is not None and store.get(callback.id).phone_number == "+31612345699"  # type: ignore[union-attr]
    assert "+31612345699" not in stored_numbers(engine)[0]


def test_another_key_cannot_open_a_number() -> None:
    number = sealed.NumberSealer("k" * 32).seal(NUMBER)
    assert sealed.NumberSealer("k" * 32).open(number) == NUMBER
    with pytest.raises(ValueError, match="CALLROUTER_CALLBACK_NUMBER_KEY"):
        sealed.NumberSealer("x" * 32).open(number)
    masked = "+316******01"
    assert sealed.NumberSealer("k" * 32).seal(masked) == masked  # a mask is kept as it is


def test_the_key_comes_from_the_settings_through_the_composition_root(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from callrouter.bootstrap import open_record
    from callrouter.config import Settings

    key = "a-callback-number-key-for-this-test"
    try:
        with open_record(Settings(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}", callback_number_key=key)):
            assert sealed.NumberSealer(key).open(sealed.sealer().seal(NUMBER)) == NUMBER
    finally:
        sealed.use_key(DEV_CALLBACK_NUMBER_KEY)


def test_migration_0008_seals_old_rows_and_keeps_masks_and_events(database_url: str, engine: Engine) -> None:
    upgrade(database_url, "0006")
    columns = ("state, origin, organisation, topic, priority_class, phone_number, line_number, place_at, due_at, "
               "expires_at, attempts, max_attempts, created_at")
    with engine.begin() as connection:
        for number in (NUMBER, "+316******02", "+31612345603"):
            connection.execute(text(f"INSERT INTO callbacks ({columns}) VALUES ('completed', 'in_queue', 'UWV', "
                                    "'ww', 'pro', :n, '+31850001000', :t, :t, :t, 0, 3, :t)"), {"n": number, "t": NOW})
        connection.execute(text("INSERT INTO callback_events (callback_id, at, to_state, cause, detail) "
                                "VALUES (1, :t, 'completed', 'test', '{}')"), {"t": NOW})
    upgrade(database_url)
    raw = stored_numbers(engine)
    assert raw[0].startswith(sealed.PREFIX) and raw[2].startswith(sealed.PREFIX) and raw[1] == "+316******02"
    assert [sealed.sealer().open(value) for value in raw] == [NUMBER, "+316******02", "+31612345603"]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM callback_events")).scalar() == 1
    upgrade(database_url)  # at head: nothing changes
    assert stored_numbers(engine) == raw

    command.downgrade(alembic_config(database_url), "0006")
    assert stored_numbers(engine) == [NUMBER, "+316******02", "+31612345603"]
