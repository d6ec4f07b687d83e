"""transfers between organisations in the rollups

- call_stats: transfers out (all and per kind: blind, consult, three-way), calls received by transfer and
  answered there, and the caller's time to the last liaison (sum and count); docs/statistics.md
  "Doorverbinden en overleg".

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-01 21:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATS_COLUMNS = ('transfers_out', 'transfers_out_blind', 'transfers_out_consult', 'transfers_out_three_way',
                 'transfers_in', 'transfers_in_answered', 'to_last_liaison_ms', 'to_last_liaison_timed')


def upgrade() -> None:
    with op.batch_alter_table('call_stats') as batch:
        for name in STATS_COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('call_stats') as batch:
        for name in reversed(STATS_COLUMNS):
            batch.drop_column(name)
