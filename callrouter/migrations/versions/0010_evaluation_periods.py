"""named evaluation periods (issue 14: periods side by side)

Written after 0008 on its own branch (ev-research); ev-outcomes writes 0009. The integrator chains this
one after 0009 when both are merged (only down_revision changes).

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-01 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('evaluation_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('name_key', sa.String(length=80), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_periods')),
    sa.UniqueConstraint('name', name=op.f('uq_evaluation_periods_name')),
    sa.UniqueConstraint('name_key', name=op.f('uq_evaluation_periods_name_key'))
    )


def downgrade() -> None:
    op.drop_table('evaluation_periods')
