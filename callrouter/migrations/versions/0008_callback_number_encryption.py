"""callback phone numbers sealed at rest (AES-GCM under CALLROUTER_CALLBACK_NUMBER_KEY)

Widens callbacks.phone_number to hold a sealed value and seals every number stored in the clear
(masked numbers stay as they are). The key comes from the settings (the environment), as for the
service: run the upgrade with the same CALLROUTER_CALLBACK_NUMBER_KEY the service will use.
Downgrade opens them again with that key.

Written after 0006 on its own branch; it is chained after 0007 (another branch) when both are merged.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callrouter.adapters.sql.sealed import PREFIX, STORED_LENGTH, NumberSealer, is_stored_as_is
from callrouter.config import Settings

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain text columns here: this migration reads and writes the stored values itself.
CALLBACKS = sa.table('callbacks', sa.column('id', sa.Integer()), sa.column('phone_number', sa.String()))
BATCH = 500


def _sealer() -> NumberSealer:
    return NumberSealer(Settings().callback_number_key.get_secret_value())


def _rewrite(change: object) -> None:
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.select(CALLBACKS.c.id, CALLBACKS.c.phone_number).where(CALLBACKS.c.id > last)
                            .order_by(CALLBACKS.c.id).limit(BATCH)).all()
        for callback_id, stored in rows:
            new = change(stored)  # type: ignore[operator]
            if new != stored:
                conn.execute(sa.update(CALLBACKS).where(CALLBACKS.c.id == callback_id).values(phone_number=new))
        if len(rows) < BATCH:
            return
        last = rows[-1][0]


def _resize(old: int, new: int) -> None:
    # SQLite does not enforce VARCHAR lengths, and a batch (copy-and-move) rebuild of callbacks there
    # would drop the old table under foreign_keys=ON and so cascade-delete callback_events: only elsewhere.
    if op.get_bind().dialect.name == 'sqlite':
        return
    op.alter_column('callbacks', 'phone_number', existing_type=sa.String(length=old), type_=sa.String(length=new),
                    existing_nullable=False)


def upgrade() -> None:
    _resize(32, STORED_LENGTH)
    sealer = _sealer()
    _rewrite(lambda stored: stored if stored.startswith(PREFIX) or is_stored_as_is(stored) else sealer.seal(stored))


def downgrade() -> None:
    sealer = _sealer()
    _rewrite(sealer.open)
    _resize(STORED_LENGTH, 32)
