"""Alembic environment: the URL comes from the caller (callrouter.cli db upgrade) or from Settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from callrouter.adapters.sql import (  # noqa: F401 - register tables
    audit_tables,
    call_tables,
    callback_tables,
    case_tables,
    directory_tables,
    period_tables,
    staff_tables,
    stats_tables,
)
from callrouter.adapters.sql.base import Base
from callrouter.adapters.sql.engine import make_engine
from callrouter.config import Settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          poolclass=pool.NullPool)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
