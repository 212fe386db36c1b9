"""Partial indexes for the claims and listings at scale: due webhook events, unprocessed ones,
events by status, due emails, unsettled payments, pending refunds, duplicate plan purchases

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-30 23:00:00.000000

Each claim reads the rows it takes, oldest first, from an index holding only the rows it may
take: processed events, parked events, sent emails and settled payments and refunds are not in
it, however many there are. The plain status index of webhook_events gives way to one on
(status, created_at, id), which also orders a listing by status.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plan purchases that succeeded without starting a subscription: every worker pass looks.
DUPLICATE_PURCHASE = (
    "status = 'succeeded' AND kind = 'payment' AND plan_id IS NOT NULL "
    "AND subscription_id IS NULL"
)
# name: (table, columns, the rows indexed)
PARTIAL = {
    "ix_webhook_events_due": (
        "webhook_events",
        ["created_at", "id"],
        "processed = false AND next_attempt_at IS NOT NULL",
    ),
    "ix_webhook_events_unprocessed": ("webhook_events", ["created_at", "id"], "processed = false"),
    "ix_notifications_due": (
        "notifications",
        ["created_at", "id"],
        "status IN ('pending', 'sending')",
    ),
    "ix_payments_unsettled": ("payments", ["created_at"], "status IN ('pending', 'unknown')"),
    "ix_refunds_pending": ("refunds", ["created_at"], "status = 'pending'"),
    "ix_payments_duplicate_purchases": ("payments", ["created_at"], DUPLICATE_PURCHASE),
}


def upgrade() -> None:
    for name, (table, columns, where) in PARTIAL.items():
        op.create_index(
            name,
            table,
            columns,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_events_status_created_at_id"), ["status", "created_at", "id"]
        )
        batch_op.drop_index(batch_op.f("ix_webhook_events_status"))


def downgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_events_status"), ["status"])
        batch_op.drop_index(batch_op.f("ix_webhook_events_status_created_at_id"))
    for name, (table, _columns, _where) in PARTIAL.items():
        op.drop_index(name, table_name=table)
