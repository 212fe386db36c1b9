"""Subscription features: trials, plan changes with credit, pause; archived plans

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 22:40:00.000000

The one-live-subscription index now counts trialing and paused subscriptions as live too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_LIVE = "status IN ('active', 'past_due')"
LIVE = "status IN ('trialing', 'active', 'past_due', 'paused')"
INDEX = "uq_subscriptions_live_user_plan"


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trial_days", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trial_ends_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("credit", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("scheduled_plan_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pause_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_subscriptions_scheduled_plan_id_plans"),
            "plans",
            ["scheduled_plan_id"],
            ["id"],
        )
        batch_op.create_index(batch_op.f("ix_subscriptions_trial_ends_at"), ["trial_ends_at"])
        batch_op.create_index(batch_op.f("ix_subscriptions_pause_until"), ["pause_until"])
    op.drop_index(INDEX, table_name="subscriptions")
    _live_index(LIVE)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="subscriptions")
    _live_index(OLD_LIVE)
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_pause_until"))
        batch_op.drop_index(batch_op.f("ix_subscriptions_trial_ends_at"))
        batch_op.drop_constraint(
            batch_op.f("fk_subscriptions_scheduled_plan_id_plans"), type_="foreignkey"
        )
        batch_op.drop_column("pause_until")
        batch_op.drop_column("paused_at")
        batch_op.drop_column("scheduled_plan_id")
        batch_op.drop_column("credit")
        batch_op.drop_column("trial_ends_at")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("archived_at")
        batch_op.drop_column("trial_days")


def _live_index(where: str) -> None:
    op.create_index(
        INDEX,
        "subscriptions",
        ["user_id", "plan_id"],
        unique=True,
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )
