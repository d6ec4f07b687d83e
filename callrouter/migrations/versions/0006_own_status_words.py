"""the call record's own words for leg statuses: not_answered, cancelled (was Twilio's no-answer, canceled)

The voice flow now keeps the service's own words in event details (callrouter.domain.call_flow.LegStatus);
the telephony provider's words stay in the web layer. Rewrites the `status` of events written before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENTS = sa.table('call_events', sa.column('id', sa.Integer()), sa.column('detail', sa.JSON()))
RENAMED = {"no-answer": "not_answered", "canceled": "cancelled"}


def _rewrite(words: dict[str, str]) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(EVENTS.c.id, EVENTS.c.detail)).all()
    for event_id, detail in rows:
        if isinstance(detail, dict) and detail.get("status") in words:
            changed = {**detail, "status": words[detail["status"]]}
            conn.execute(EVENTS.update().where(EVENTS.c.id == event_id).values(detail=changed))


def upgrade() -> None:
    _rewrite(RENAMED)


def downgrade() -> None:
    _rewrite({new: old for old, new in RENAMED.items()})
