"""One live subscription per user and plan, enforced by a partial unique index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 20:25:00.000000

Fails if a user already holds two live (active or past_due) subscriptions to one plan: cancel
one of them first (payment-cli subscriptions cancel), then upgrade.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('active', 'past_due')"


def upgrade() -> None:
    op.create_index(
        "uq_subscriptions_live_user_plan",
        "subscriptions",
        ["user_id", "plan_id"],
        unique=True,
        postgresql_where=sa.text(LIVE),
        sqlite_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_subscriptions_live_user_plan", table_name="subscriptions")
