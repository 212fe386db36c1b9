"""Repositories: the only place that writes SQL for the service layer."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from payment_lib.db.payment_writes import USER_LOCK, user_key
from payment_lib.db.tables import (
    Base,
    Notification,
    PaymentMethod,
    Plan,
    Subscription,
    utcnow,
)
from payment_lib.domain.errors import InvalidRequest


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


STRIPE_ID = "stripe_payment_method_id"


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

    def id_for(self, values: dict[str, Any]) -> uuid.UUID:
        """The id of the card with ``values["stripe_payment_method_id"]``, inserting it from
        ``values`` when unknown: one Core statement for a new card, two for a known one."""
        new_id = uuid.uuid4()
        if insert_once(self.session, PaymentMethod, {**values, "id": new_id}, STRIPE_ID):
            return new_id
        query = select(PaymentMethod.id).where(
            PaymentMethod.stripe_payment_method_id == values[STRIPE_ID]
        )
        return self.session.execute(query).scalar_one()

    def get(self, method_id: uuid.UUID) -> PaymentMethod | None:
        return self.session.get(PaymentMethod, method_id)

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
        self.session.execute(USER_LOCK, {"key": user_key(user_id)})


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
        .returning(*table.primary_key)
    )
    return session.execute(statement).first() is not None


def _outbox_row(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "status": "pending",
        "attempts": 0,
        "created_at": values.get("created_at") or utcnow(),
        **values,
    }


class NotificationRepository:
    """The email outbox."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(self, values: dict[str, Any]) -> bool:
        """Add a notification unless one with the same dedupe_key exists; True if added."""
        return insert_once(self.session, Notification, _outbox_row(values), "dedupe_key")

    def enqueue_many(self, many: list[dict[str, Any]]) -> None:
        """``enqueue`` each, in one statement (of a dedupe_key repeated in ``many``, the first)."""
        rows: dict[str, dict[str, Any]] = {}
        for values in many:
            rows.setdefault(values["dedupe_key"], _outbox_row(values))
        if not rows:
            return
        dialect = self.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(Notification.__table__).values(list(rows.values()))  # type: ignore[arg-type]
        self.session.execute(statement.on_conflict_do_nothing(index_elements=["dedupe_key"]))

    def for_recipient(self, recipient: str) -> list[Notification]:
        query = select(Notification).where(Notification.recipient == recipient)
        return list(self.session.scalars(query.order_by(Notification.created_at)))

    def listing(
        self, recipient: str | None, *, limit: int, status: str | None = None
    ) -> list[Notification]:
        """The outbox oldest first, only ``recipient``'s (or ``status``'s) when given."""
        query = select(Notification)
        if recipient is not None:
            query = query.where(Notification.recipient == recipient)
        if status is not None:
            query = query.where(Notification.status == status)
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


class SubscriptionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, subscription: Subscription) -> bool:
        """Insert a subscription; False, adding nothing, when the user already has a live one
        to the plan (the database's unique index says so, races included)."""
        try:
            with self.session.begin_nested():
                self.session.add(subscription)
        except IntegrityError:
            return False
        return True

    def get(self, subscription_id: uuid.UUID, *, for_update: bool = False) -> Subscription | None:
        query = select(Subscription).where(Subscription.id == subscription_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def for_user(self, user_id: uuid.UUID) -> list[Subscription]:
        query = select(Subscription).where(Subscription.user_id == user_id)
        return list(self.session.scalars(query.order_by(Subscription.created_at)))

    @staticmethod
    def _due(
        now: dt.datetime,
        grace: dt.timedelta,
        subscription_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
    ) -> ColumnElement[bool]:
        """Exactly the live subscriptions with something to do at ``now``: a renewal, an ending
        at the period's end, a retry whose time came, an expiry after a hard decline nobody
        fixed within ``grace``. A past-due one waiting for its retry is not due."""
        s = Subscription
        scope = and_(
            s.id == subscription_id if subscription_id is not None else true(),
            s.user_id == user_id if user_id is not None else true(),
        )
        return scope & or_(
            # A trial's end is its first renewal (or, without a card, its end).
            and_(s.status.in_(("trialing", "active")), s.next_billing_date <= now),
            and_(s.status == "past_due", s.next_retry_at <= now),
            and_(
                s.status == "past_due",
                s.next_retry_at.is_(None),
                s.next_billing_date <= now - grace,
            ),
            and_(
                s.status.in_(("trialing", "active", "past_due")),
                s.cancel_at_period_end.is_(True),
                s.next_billing_date <= now,
            ),
        )

    def due(
        self,
        now: dt.datetime,
        *,
        grace: dt.timedelta,
        after: uuid.UUID | None = None,
        limit: int,
        subscription_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
    ) -> list[Subscription]:
        """The due subscriptions (see ``_due``), a batch at a time in id order after ``after``;
        only one, or one user's, when given."""
        query = select(Subscription).where(self._due(now, grace, subscription_id, user_id))
        if after is not None:
            query = query.where(Subscription.id > after)
        return list(self.session.scalars(query.order_by(Subscription.id).limit(limit)))

    def count_due(
        self,
        now: dt.datetime,
        *,
        grace: dt.timedelta,
        subscription_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
    ) -> int:
        due = self._due(now, grace, subscription_id, user_id)
        query = select(func.count()).select_from(Subscription).where(due)
        return int(self.session.scalar(query) or 0)

    def trials_ending(
        self,
        before: dt.datetime,
        *,
        after: dt.datetime,
        subscription_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
    ) -> list[Subscription]:
        """Trialing subscriptions whose trial ends in (after, before], soonest first (the
        index on trial_ends_at finds them), leaving out those cancelled at the trial's end;
        only one, or one user's, when given."""
        s = Subscription
        query = select(s).where(
            s.trial_ends_at > after,
            s.trial_ends_at <= before,
            s.status == "trialing",
            s.cancel_at_period_end.is_(False),
            s.id == subscription_id if subscription_id is not None else true(),
            s.user_id == user_id if user_id is not None else true(),
        )
        return list(self.session.scalars(query.order_by(s.trial_ends_at, s.id)))

    def lock_using_method(self, method_id: uuid.UUID) -> list[Subscription]:
        """The subscriptions whose renewals go to this card, locked."""
        query = (
            select(Subscription)
            .where(Subscription.payment_method_id == method_id)
            .order_by(Subscription.created_at, Subscription.id)
            .with_for_update()
        )
        return list(self.session.scalars(query))
