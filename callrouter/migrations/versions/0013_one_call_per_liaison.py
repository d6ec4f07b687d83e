"""one liaison, one call: a partial unique index on the calls a liaison holds

- calls: `uq_calls_open_liaison`, unique on liaison_id where the state is offered or connected. The router's
  claims live in Redis, which can lose an acknowledged claim in a failover; two processes may then offer two
  calls to one liaison at once. The record now refuses the second (domain.calls.LiaisonTaken).

A database that already holds two open calls for one liaison (the fault this closes) is named and left as it
is: end or return those calls first (they are listed), then upgrade again.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("state IN ('offered', 'connected') AND liaison_id IS NOT NULL")


def upgrade() -> None:
    doubled = op.get_bind().execute(sa.text(
        "SELECT liaison_id, COUNT(*) FROM calls WHERE state IN ('offered', 'connected') AND liaison_id IS NOT NULL "
        "GROUP BY liaison_id HAVING COUNT(*) > 1")).all()
    if doubled:
        names = ", ".join(f"liaison {liaison} ({count} calls)" for liaison, count in doubled)
        raise RuntimeError(f"migration 0013: these liaisons hold more than one offered or connected call: {names}; "
                           "end or return those calls, then upgrade again")
    op.create_index('uq_calls_open_liaison', 'calls', ['liaison_id'], unique=True, sqlite_where=WHERE,
                    postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index('uq_calls_open_liaison', table_name='calls')
