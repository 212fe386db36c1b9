"""Stripe Customers in their own table, one per user (backfilled from the saved cards)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customers_stripe_customer_id"), ["stripe_customer_id"], unique=True
        )
    # Each user's customer as the saved cards know it (the oldest card's, where they differ).
    op.execute(
        "INSERT INTO customers (user_id, stripe_customer_id, email, created_at, updated_at) "
        "SELECT m.user_id, m.stripe_customer_id, NULL, m.created_at, m.created_at "
        "FROM payment_methods m WHERE m.stripe_customer_id IS NOT NULL AND NOT EXISTS ("
        "SELECT 1 FROM payment_methods o WHERE o.user_id = m.user_id "
        "AND o.stripe_customer_id IS NOT NULL AND (o.created_at < m.created_at "
        "OR (o.created_at = m.created_at AND o.id < m.id)))"
    )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_stripe_customer_id"))
    op.drop_table("customers")
