"""The schema as SQLAlchemy 2 typed models. Alembic revisions in migrations/ create it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, MetaData, String, Text, Uuid, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from payment_lib.db.types import JsonDocument, UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dt.datetime: UtcDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JsonDocument,
    }


metadata = Base.metadata


class Plan(Base):
    """A price a subscription renews at: amount per interval_count intervals."""

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(8))
    interval_count: Mapped[int] = mapped_column(Integer, default=1)
    # A new subscription's free days before its first charge (0: none).
    trial_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Archived plans sell no new subscriptions; the live ones go on renewing.
    archived_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Customer(Base):
    """A user's Stripe Customer, one per user: the row is written (pending, no Stripe id)
    before Stripe is asked to make it, so a retry never makes a second one."""

    __tablename__ = "customers"
    __table_args__ = (Index(None, "stripe_customer_id", unique=True),)

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))  # as last set at Stripe
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PaymentMethod(Base):
    """Safe card details only: never a full card number."""

    __tablename__ = "payment_methods"
    __table_args__ = (
        Index(None, "stripe_payment_method_id", unique=True),
        Index(None, "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID]
    stripe_payment_method_id: Mapped[str] = mapped_column(String(255))
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    card_brand: Mapped[str | None] = mapped_column(String(32))
    last4: Mapped[str | None] = mapped_column(String(4))
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # When Stripe detached the card (or deleted its customer): it is never charged again, and
    # no late event links it to a subscription again.
    detached_at: Mapped[dt.datetime | None]
    # Stripe's ``created`` of the newest payment_method.updated applied: older ones change
    # nothing.
    stripe_updated: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


UNSETTLED_PAYMENT = "status IN ('pending', 'unknown')"  # domain.states.UNSETTLED
# Plan purchases that succeeded without starting a subscription (refunded by the worker).
DUPLICATE_PURCHASE = (
    "status = 'succeeded' AND kind = 'payment' AND plan_id IS NOT NULL AND subscription_id IS NULL"
)
PAID_FOR_NOTHING = "paid_for_nothing_at IS NOT NULL AND status = 'succeeded'"
LIVE_SUBSCRIPTION = "status IN ('trialing', 'active', 'past_due', 'paused')"


def partial_index(name: str, *columns: str, where: str) -> Index:
    """An index of only the rows ``where`` holds (a claim's candidates), on both databases."""
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        Index(None, "user_id"),
        Index(None, "status"),
        Index(None, "next_billing_date"),
        Index(None, "next_retry_at"),
        Index(None, "trial_ends_at"),
        Index(None, "pause_until"),
        Index(None, "created_at", "id"),
        # One live subscription per user and plan, whatever races past the purchase check.
        Index(
            "uq_subscriptions_live_user_plan",
            "user_id",
            "plan_id",
            unique=True,
            postgresql_where=text(LIVE_SUBSCRIPTION),
            sqlite_where=text(LIVE_SUBSCRIPTION),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID]
    customer_email: Mapped[str | None] = mapped_column(String(320))
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(32))
    payment_method_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_methods.id"))
    start_date: Mapped[dt.datetime]
    end_date: Mapped[dt.datetime | None]
    next_billing_date: Mapped[dt.datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # While past_due: when the next renewal attempt is due; NULL after a hard decline, until
    # the payment method changes.
    next_retry_at: Mapped[dt.datetime | None]
    # While trialing: when the trial ends (the first charge is the renewal then).
    trial_ends_at: Mapped[dt.datetime | None]
    # Minor units, in the plan's currency, owed to the customer (a downgrade's or a cheaper
    # plan change's difference): the next renewals use it before charging the card.
    credit: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # A plan change that takes effect when the current period ends (a downgrade, by default).
    scheduled_plan_id: Mapped[str | None] = mapped_column(ForeignKey("plans.id"))
    # While paused: since when, and until when (NULL: until resumed).
    paused_at: Mapped[dt.datetime | None]
    pause_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        Index(None, "idempotency_key", unique=True),
        Index(None, "user_id"),
        Index(None, "status"),
        Index(None, "created_at"),
        Index(None, "user_id", "created_at"),
        Index(None, "stripe_transaction_id"),
        Index(None, "subscription_id"),
        partial_index("ix_payments_unsettled", "created_at", where=UNSETTLED_PAYMENT),
        partial_index("ix_payments_duplicate_purchases", "created_at", where=DUPLICATE_PURCHASE),
        partial_index("ix_payments_paid_for_nothing", "created_at", where=PAID_FOR_NOTHING),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID]
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32))
    # "payment" (asked for by the user: rate limited) or "renewal" (charged by billing runs).
    kind: Mapped[str] = mapped_column(String(16), default="payment", server_default="payment")
    stripe_transaction_id: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    redirect_url: Mapped[str | None] = mapped_column(Text)
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    plan_id: Mapped[str | None] = mapped_column(ForeignKey("plans.id"))
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("subscriptions.id"))
    payment_method_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payment_methods.id"))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    description: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Summary of the payment's dispute (the disputes table has the whole story): its status,
    # and what was lost to it (withdrawn and not reinstated), in minor units.
    dispute_status: Mapped[str | None] = mapped_column(String(32))
    amount_lost: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # A recovery worker's lease: while it is in the future, one worker is asking Stripe about
    # this payment and no other may.
    recovering_until: Mapped[dt.datetime | None]
    # When recording its success found it paid for nothing (a renewal of an ended or already
    # paid period, an upgrade not applied): the worker refunds it (services/duplicates.py).
    paid_for_nothing_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        Index(None, "idempotency_key", unique=True),
        Index(None, "payment_id"),
        Index(None, "stripe_refund_id"),
        Index(None, "status"),
        Index(None, "created_at", "id"),
        partial_index("ix_refunds_pending", "created_at", where="status = 'pending'"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32))
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(255))
    failure_message: Mapped[str | None] = mapped_column(String(500))
    recovering_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Dispute(Base):
    """A chargeback (or an inquiry) Stripe told us about, one row per Stripe dispute."""

    __tablename__ = "disputes"
    __table_args__ = (
        Index(None, "stripe_dispute_id", unique=True),
        Index(None, "payment_id"),
        Index(None, "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    stripe_dispute_id: Mapped[str] = mapped_column(String(255))
    # NULL for a dispute about a charge this library did not make.
    payment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payments.id"))
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    evidence_due_by: Mapped[dt.datetime | None]
    # Whether the disputed amount is withdrawn from us now (funds_withdrawn, not reinstated).
    funds_withdrawn: Mapped[bool] = mapped_column(default=False)
    # Stripe's ``created`` of the newest event applied: older events change nothing.
    stripe_updated: Mapped[int] = mapped_column(BigInteger, default=0)
    closed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """The webhook inbox: every verified Stripe event, stored once, processed later."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index(None, "stripe_event_id", unique=True),
        Index(None, "event_type"),
        Index(None, "processed"),
        Index(None, "status", "created_at", "id"),
        Index(None, "created_at", "id"),
        partial_index(
            "ix_webhook_events_due",
            "created_at",
            "id",
            where="processed = false AND next_attempt_at IS NOT NULL",
        ),
        partial_index(
            "ix_webhook_events_unprocessed", "created_at", "id", where="processed = false"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    stripe_event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    processed: Mapped[bool] = mapped_column(default=False)
    # pending (to process), processed (handled), ignored (a type the library does not act
    # on), parked (failed repeatedly; waits for a replay).
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    signature_verified: Mapped[bool] = mapped_column(default=False)
    processed_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """The email outbox, written in the same transaction as the change it reports."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index(None, "dedupe_key", unique=True),
        Index(None, "status", "next_attempt_at"),
        Index(None, "recipient"),
        Index(None, "created_at", "id"),
        partial_index(
            "ix_notifications_due", "created_at", "id", where="status IN ('pending', 'sending')"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    recipient: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WorkerHeartbeat(Base):
    """A worker process's last pass: ``payment-cli doctor`` checks one was seen recently."""

    __tablename__ = "worker_heartbeats"
    __table_args__ = (Index(None, "seen_at"),)

    worker_id: Mapped[str] = mapped_column(String(255), primary_key=True)  # host:pid
    started_at: Mapped[dt.datetime]
    seen_at: Mapped[dt.datetime]
    passes: Mapped[int] = mapped_column(BigInteger)


class ReconcileRun(Base):
    """What one reconcile found, by drift kind (``payment-cli stats`` shows the last one)."""

    __tablename__ = "reconcile_runs"
    __table_args__ = (Index(None, "finished_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    since: Mapped[dt.datetime]
    until: Mapped[dt.datetime]
    fixed: Mapped[bool]
    # {"checked": {resource: n}, "counts": {drift kind: n}, "unfixed": n}
    summary: Mapped[dict[str, Any]]
    finished_at: Mapped[dt.datetime]
