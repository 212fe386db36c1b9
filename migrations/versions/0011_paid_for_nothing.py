"""Payments paid for nothing: refunded automatically

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 03:00:00.000000

A charge Stripe made for something that no longer needed paying (a renewal of a subscription
that ended, or whose period another attempt paid; an upgrade whose subscription ended or moved
on while the charge was in flight) is marked when its success is recorded; the worker's refund
pass reads the marked ones still succeeded through a partial index and refunds each once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAID_FOR_NOTHING = "paid_for_nothing_at IS NOT NULL AND status = 'succeeded'"


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paid_for_nothing_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_index(
        "ix_payments_paid_for_nothing",
        "payments",
        ["created_at"],
        postgresql_where=sa.text(PAID_FOR_NOTHING),
        sqlite_where=sa.text(PAID_FOR_NOTHING),
    )


def downgrade() -> None:
    op.drop_index("ix_payments_paid_for_nothing", table_name="payments")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("paid_for_nothing_at")
