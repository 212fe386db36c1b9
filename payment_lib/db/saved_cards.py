"""Saved-card queries: a user's cards, the live subscriptions renewing with them, and the
cards live subscriptions renew with that expire within a span of months."""

from __future__ import annotations

import uuid

from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy.orm import Session

from payment_lib.db.tables import Notification, PaymentMethod, Subscription
from payment_lib.domain.states import LIVE_SUBSCRIPTIONS

LIVE = [status.value for status in LIVE_SUBSCRIPTIONS]


class SavedCardRepository:
    """Saved cards as their owners see them."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def for_user(self, user_id: uuid.UUID) -> list[PaymentMethod]:
        """The user's cards not removed (detached), oldest first."""
        query = (
            select(PaymentMethod)
            .where(PaymentMethod.user_id == user_id, PaymentMethod.detached_at.is_(None))
            .order_by(PaymentMethod.created_at, PaymentMethod.id)
        )
        return list(self.session.scalars(query))

    def live_using(self, method_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
        """For each card, the live subscriptions renewing with it (oldest first)."""
        query = (
            select(Subscription.payment_method_id, Subscription.id)
            .where(Subscription.payment_method_id.in_(method_ids), Subscription.status.in_(LIVE))
            .order_by(Subscription.created_at, Subscription.id)
        )
        using: dict[uuid.UUID, list[uuid.UUID]] = {method: [] for method in method_ids}
        for method_id, subscription_id in self.session.execute(query):
            assert method_id is not None  # chosen by it
            using[method_id].append(subscription_id)
        return using

    def live_subscriptions(self, user_id: uuid.UUID) -> list[Subscription]:
        """The user's live subscriptions, locked until the transaction ends."""
        query = (
            select(Subscription)
            .where(Subscription.user_id == user_id, Subscription.status.in_(LIVE))
            .order_by(Subscription.created_at, Subscription.id)
            .with_for_update()
        )
        return list(self.session.scalars(query))

    def expiring_in_use(
        self, first: int, last: int, *, reminded: str
    ) -> list[tuple[PaymentMethod, Subscription]]:
        """Cards not removed that live subscriptions renew with, expiring in a month from
        ``first`` to ``last`` (months counted as year * 12 + month - 1) and not reminded of
        that expiry yet (no notification keyed ``<reminded>:<pm id>:<year>-<month>``), with
        each such subscription; by card, then oldest subscription first.

        The reminded ones are left out here, by the key's unique index, so that a pass over
        cards reminded before costs one query, not one insert each."""
        method = PaymentMethod
        month = method.exp_year * 12 + method.exp_month - 1
        key = (
            literal(f"{reminded}:")
            + method.stripe_payment_method_id
            + ":"
            + cast(method.exp_year, String)
            + "-"
            + cast(method.exp_month, String)
        )
        query = (
            select(PaymentMethod, Subscription)
            .join(Subscription, Subscription.payment_method_id == PaymentMethod.id)
            .where(
                Subscription.status.in_(LIVE),
                PaymentMethod.detached_at.is_(None),
                month >= first,
                month <= last,
                ~exists().where(Notification.dedupe_key == key),
            )
            .order_by(PaymentMethod.id, Subscription.created_at, Subscription.id)
        )
        return [(method, subscription) for method, subscription in self.session.execute(query)]
