"""Indexes for listing: the outbox by recipient and by age, webhook events by age

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 20:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_recipient"), ["recipient"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_created_at_id"), ["created_at", "id"], unique=False
        )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_events_created_at_id"), ["created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_events_created_at_id"))
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_notifications_recipient"))
