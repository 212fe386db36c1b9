"""Repositories: the only place that writes SQL for the service layer."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from payment_lib.db.tables import (
    Base,
    Notification,
    Payment,
    PaymentMethod,
    Plan,
    Refund,
    Subscription,
    WebhookEvent,
    utcnow,
)
from payment_lib.domain.errors import InvalidRequest
from payment_lib.domain.states import UNSETTLED


class PlanRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, plan: Plan) -> Plan:
        """Insert a plan; a plan id that exists already is refused."""
        try:
            with self.session.begin_nested():
                self.session.add(plan)
        except IntegrityError:
            raise InvalidRequest(f"Plan {plan.id!r} already exists.", param="plan_id") from None
        return plan

    def get(self, plan_id: str) -> Plan | None:
        return self.session.get(Plan, plan_id)

    def list(self) -> list[Plan]:
        return list(self.session.scalars(select(Plan).order_by(Plan.id)))


class PaymentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, payment: Payment) -> Payment:
        self.session.add(payment)
        self.session.flush()
        return payment

    def get(self, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment | None:
        query = select(Payment).where(Payment.id == payment_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def by_idempotency_key(self, key: str) -> Payment | None:
        return self.session.scalars(select(Payment).where(Payment.idempotency_key == key)).first()

    def by_intent(self, intent_id: str, *, for_update: bool = False) -> Payment | None:
        query = select(Payment).where(Payment.stripe_transaction_id == intent_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def for_user(self, user_id: uuid.UUID, *, limit: int = 100) -> list[Payment]:
        query = (
            select(Payment)
            .where(Payment.user_id == user_id)
            .order_by(Payment.created_at.desc(), Payment.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def attempts_since(self, user_id: uuid.UUID, since: dt.datetime) -> list[dt.datetime]:
        """When the user made their own attempts (not renewals) since ``since``, oldest first."""
        query = (
            select(Payment.created_at)
            .where(
                Payment.user_id == user_id, Payment.created_at >= since, Payment.kind == "payment"
            )
            .order_by(Payment.created_at)
        )
        return list(self.session.scalars(query))

    def claim_unsettled(
        self, created_before: dt.datetime, *, now: dt.datetime, lease_until: dt.datetime, limit: int
    ) -> list[Payment]:
        """Pending or unknown payments older than ``created_before`` that no one is recovering,
        oldest first, leased to the caller until ``lease_until`` (commit to hold the lease)."""
        query = (
            select(Payment)
            .where(
                Payment.status.in_(UNSETTLED),
                Payment.created_at < created_before,
                or_(Payment.recovering_until.is_(None), Payment.recovering_until <= now),
            )
            .order_by(Payment.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = list(self.session.scalars(query))
        for payment in claimed:
            payment.recovering_until = lease_until
        return claimed

    def by_intents(self, intent_ids: Sequence[str]) -> dict[str, Payment]:
        """Our payments for these PaymentIntents, by PaymentIntent id."""
        query = select(Payment).where(Payment.stripe_transaction_id.in_(intent_ids))
        return {p.stripe_transaction_id or "": p for p in self.session.scalars(query)}

    def by_ids(self, payment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Payment]:
        query = select(Payment).where(Payment.id.in_(payment_ids))
        return {p.id: p for p in self.session.scalars(query)}

    def with_intent_created_between(
        self,
        since: dt.datetime,
        until: dt.datetime,
        *,
        after: tuple[dt.datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[tuple[dt.datetime, uuid.UUID, str]]:
        """(created_at, id, PaymentIntent id) of payments made in [since, until) that have a
        PaymentIntent, in (created_at, id) order after ``after``: keyset pages."""
        query = select(Payment.created_at, Payment.id, Payment.stripe_transaction_id).where(
            Payment.created_at >= since,
            Payment.created_at < until,
            Payment.stripe_transaction_id.is_not(None),
        )
        if after is not None:
            query = query.where(tuple_(Payment.created_at, Payment.id) > tuple_(*after))
        query = query.order_by(Payment.created_at, Payment.id).limit(limit)
        return [(row[0], row[1], row[2] or "") for row in self.session.execute(query)]

    def unsettled_for_subscription(self, subscription_id: uuid.UUID) -> list[Payment]:
        """The subscription's payments whose outcome is not known yet."""
        query = select(Payment).where(
            Payment.subscription_id == subscription_id, Payment.status.in_(UNSETTLED)
        )
        return list(self.session.scalars(query))


class PaymentMethodRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_stripe_id(self, stripe_id: str) -> PaymentMethod | None:
        query = select(PaymentMethod).where(PaymentMethod.stripe_payment_method_id == stripe_id)
        return self.session.scalars(query).first()

    def add(self, method: PaymentMethod) -> PaymentMethod:
        self.session.add(method)
        self.session.flush()
        return method

    def get(self, method_id: uuid.UUID) -> PaymentMethod | None:
        return self.session.get(PaymentMethod, method_id)

    def customer_of(self, user_id: uuid.UUID) -> str | None:
        """The Stripe Customer id saved with any of the user's cards."""
        query = (
            select(PaymentMethod.stripe_customer_id)
            .where(PaymentMethod.user_id == user_id, PaymentMethod.stripe_customer_id.is_not(None))
            .limit(1)
        )
        return self.session.scalars(query).first()

    def lock_by_stripe_id(self, stripe_id: str) -> PaymentMethod | None:
        """The card with this Stripe id, locked until the transaction ends."""
        query = (
            select(PaymentMethod)
            .where(PaymentMethod.stripe_payment_method_id == stripe_id)
            .with_for_update()
        )
        return self.session.scalars(query).first()

    def lock_for_customer(self, stripe_customer_id: str) -> list[PaymentMethod]:
        """The cards saved with a Stripe Customer, locked until the transaction ends."""
        query = (
            select(PaymentMethod)
            .where(PaymentMethod.stripe_customer_id == stripe_customer_id)
            .order_by(PaymentMethod.created_at, PaymentMethod.id)
            .with_for_update()
        )
        return list(self.session.scalars(query))


class Locks:
    """Locks that serialise work across processes and machines.

    PostgreSQL: transaction-scoped advisory locks. SQLite: every write transaction already
    holds the database's write lock (BEGIN IMMEDIATE), so there is nothing more to take.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def user(self, user_id: uuid.UUID) -> None:
        """Hold the user's lock until the transaction ends."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        key = int.from_bytes(user_id.bytes[:8], "big", signed=True)
        self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def insert_once(session: Session, model: type[Base], values: dict[str, Any], unique: str) -> bool:
    """INSERT ... ON CONFLICT (unique) DO NOTHING on either database; True if a row was added.

    Race-free deduplication: never check-then-insert.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = model.__table__
    # A Core insert of the table: the ORM-enabled one costs more than the database round trip.
    statement = (
        insert(table)  # type: ignore[arg-type]
        .values(**values)
        .on_conflict_do_nothing(index_elements=[unique])
        .returning(table.c.id)
    )
    return session.execute(statement).first() is not None


class NotificationRepository:
    """The email outbox."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(self, values: dict[str, Any]) -> bool:
        """Add a notification unless one with the same dedupe_key exists; True if added."""
        row = {
            "id": uuid.uuid4(),
            "status": "pending",
            "attempts": 0,
            "created_at": values.get("created_at") or utcnow(),
            **values,
        }
        return insert_once(self.session, Notification, row, "dedupe_key")

    def for_recipient(self, recipient: str) -> list[Notification]:
        query = select(Notification).where(Notification.recipient == recipient)
        return list(self.session.scalars(query.order_by(Notification.created_at)))

    def listing(self, recipient: str | None, *, limit: int) -> list[Notification]:
        """The outbox oldest first, only ``recipient``'s when given."""
        query = select(Notification)
        if recipient is not None:
            query = query.where(Notification.recipient == recipient)
        query = query.order_by(Notification.created_at, Notification.id).limit(limit)
        return list(self.session.scalars(query))

    def claim_due(self, now: dt.datetime, *, limit: int) -> list[Notification]:
        """Notifications to send at ``now``, oldest first, locked; others' claims are skipped.

        Due: pending ones whose retry time has come, and ``sending`` ones whose sender's
        lease ran out (it died before recording how the send went).
        """
        due = or_(
            and_(
                Notification.status == "pending",
                or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
            ),
            and_(Notification.status == "sending", Notification.next_attempt_at <= now),
        )
        query = (
            select(Notification)
            .where(due)
            .order_by(Notification.created_at, Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(query))

    def lock(self, notification_id: uuid.UUID) -> Notification | None:
        """The notification, locked until the transaction ends."""
        query = select(Notification).where(Notification.id == notification_id).with_for_update()
        return self.session.scalars(query).first()


class RefundRepository:
    """Refunds; a payment's pending refunds reserve their amount until Stripe answers."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, refund: Refund) -> bool:
        """Insert a refund; False, adding nothing, when its idempotency key is taken."""
        try:
            with self.session.begin_nested():
                self.session.add(refund)
        except IntegrityError:
            return False
        return True

    def get(self, refund_id: uuid.UUID) -> Refund | None:
        return self.session.get(Refund, refund_id)

    def by_stripe_id(self, stripe_refund_id: str, *, for_update: bool = False) -> Refund | None:
        query = select(Refund).where(Refund.stripe_refund_id == stripe_refund_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def by_idempotency_key(self, key: str) -> Refund | None:
        return self.session.scalars(select(Refund).where(Refund.idempotency_key == key)).first()

    def by_stripe_ids(self, stripe_refund_ids: Sequence[str]) -> dict[str, Refund]:
        query = select(Refund).where(Refund.stripe_refund_id.in_(stripe_refund_ids))
        return {r.stripe_refund_id or "": r for r in self.session.scalars(query)}

    def by_ids(self, refund_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Refund]:
        query = select(Refund).where(Refund.id.in_(refund_ids))
        return {r.id: r for r in self.session.scalars(query)}

    def for_payment(self, payment_id: uuid.UUID) -> list[Refund]:
        """A payment's refunds, oldest first."""
        query = select(Refund).where(Refund.payment_id == payment_id)
        return list(self.session.scalars(query.order_by(Refund.created_at, Refund.id)))

    def pending_amount(self, payment_id: uuid.UUID) -> int:
        """What the payment's pending refunds hold back, in minor units."""
        query = select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment_id, Refund.status == "pending"
        )
        return int(self.session.scalar(query) or 0)

    def claim_stale_pending(
        self, created_before: dt.datetime, *, now: dt.datetime, lease_until: dt.datetime, limit: int
    ) -> list[Refund]:
        """Pending refunds older than ``created_before`` that no one is recovering, oldest
        first, leased to the caller until ``lease_until`` (commit to hold the lease)."""
        query = (
            select(Refund)
            .where(
                Refund.status == "pending",
                Refund.created_at < created_before,
                or_(Refund.recovering_until.is_(None), Refund.recovering_until <= now),
            )
            .order_by(Refund.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed = list(self.session.scalars(query))
        for refund in claimed:
            refund.recovering_until = lease_until
        return claimed


class SubscriptionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, subscription: Subscription) -> Subscription:
        self.session.add(subscription)
        self.session.flush()
        return subscription

    def get(self, subscription_id: uuid.UUID, *, for_update: bool = False) -> Subscription | None:
        query = select(Subscription).where(Subscription.id == subscription_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def for_user(self, user_id: uuid.UUID) -> list[Subscription]:
        query = select(Subscription).where(Subscription.user_id == user_id)
        return list(self.session.scalars(query.order_by(Subscription.created_at)))

    def due(self, now: dt.datetime, *, limit: int) -> list[Subscription]:
        """Live subscriptions with something to do at ``now``: a renewal, a retry, an ending."""
        query = (
            select(Subscription)
            .where(
                Subscription.status.in_(("active", "past_due")),
                Subscription.next_billing_date <= now,
            )
            .order_by(Subscription.next_billing_date)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def lock_using_method(self, method_id: uuid.UUID) -> list[Subscription]:
        """The subscriptions whose renewals go to this card, locked."""
        query = (
            select(Subscription)
            .where(Subscription.payment_method_id == method_id)
            .order_by(Subscription.created_at, Subscription.id)
            .with_for_update()
        )
        return list(self.session.scalars(query))


class WebhookEventRepository:
    """The webhook inbox: each Stripe event stored once, claimed by one worker at a time."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_once(self, values: dict[str, Any]) -> bool:
        """Store an event unless its stripe_event_id is known; True if it was added."""
        return insert_once(self.session, WebhookEvent, values, "stripe_event_id")

    def get(self, stripe_event_id: str, *, for_update: bool = False) -> WebhookEvent | None:
        query = select(WebhookEvent).where(WebhookEvent.stripe_event_id == stripe_event_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def lock(self, event_id: uuid.UUID) -> WebhookEvent | None:
        """The event, locked until the transaction ends."""
        query = select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update()
        return self.session.scalars(query).first()

    def claim_due(self, now: dt.datetime, *, limit: int) -> list[WebhookEvent]:
        """Unprocessed events due at ``now``, oldest first, locked; others' claims are skipped.

        Parked events (next_attempt_at NULL) are never due.
        """
        query = (
            select(WebhookEvent)
            .where(WebhookEvent.processed.is_(False), WebhookEvent.next_attempt_at <= now)
            .order_by(WebhookEvent.created_at, WebhookEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(query))

    def listing(
        self, *, unprocessed: bool, limit: int, status: str | None = None
    ) -> list[WebhookEvent]:
        """Events oldest first; only those not processed yet when ``unprocessed``, only those
        with ``status`` when given."""
        query = select(WebhookEvent)
        if unprocessed:
            query = query.where(WebhookEvent.processed.is_(False))
        if status is not None:
            query = query.where(WebhookEvent.status == status)
        query = query.order_by(WebhookEvent.created_at, WebhookEvent.id).limit(limit)
        return list(self.session.scalars(query))
