"""Stored cards kept in step with Stripe, from its webhooks.

A card detached from its customer (``payment_method.detached``), or every card of a deleted
customer (``customer.deleted``), can never be charged again: it is marked detached and the
subscriptions renewing with it lose it. Billing then reports them as having no saved card
until the user gives a new one (``change_payment_method``), and no late event about an old
payment links the detached card to a subscription again. An updated card
(``payment_method.updated``, e.g. a new expiry from the card network's updater) keeps its new
details; an older update than the one applied changes nothing.
"""

from __future__ import annotations

import datetime as dt

import structlog

from payment_lib.db.tables import PaymentMethod
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.stripe_objects import CardDetails

log = structlog.get_logger(__name__)


def card_detached(
    uow: UnitOfWork, stripe_payment_method_id: str, *, when: dt.datetime, now: dt.datetime
) -> bool:
    """The card is no longer the customer's at Stripe (since ``when``). True if that changed
    anything."""
    method = uow.payment_methods.lock_by_stripe_id(stripe_payment_method_id)
    if method is None:
        log.info(
            "detached card is not one we store", stripe_payment_method_id=stripe_payment_method_id
        )
        return False
    known = method.detached_at is not None
    return _retire(uow, method, when=when, now=now) > 0 or not known


def customer_deleted(
    uow: UnitOfWork, stripe_customer_id: str, *, when: dt.datetime, now: dt.datetime
) -> bool:
    """The Stripe Customer is gone, and with it every card saved with it: none is charged
    again, and none names the customer any more (a new purchase makes a new one)."""
    methods = uow.payment_methods.lock_for_customer(stripe_customer_id)
    if not methods:
        log.info("deleted customer is not one we store", stripe_customer_id=stripe_customer_id)
        return False
    unlinked = 0
    for method in methods:
        method.stripe_customer_id = None
        unlinked += _retire(uow, method, when=when, now=now)
    log.warning(
        "stripe customer deleted: its cards are no longer charged",
        stripe_customer_id=stripe_customer_id,
        user_id=str(methods[0].user_id),
        cards=len(methods),
        subscriptions_without_card=unlinked,
    )
    return True


def card_updated(uow: UnitOfWork, card: CardDetails, *, version: int) -> bool:
    """Keep a card's new expiry (and brand and last4, when they changed). ``version`` is the
    event's ``created``: an update older than the one applied changes nothing."""
    method = uow.payment_methods.lock_by_stripe_id(card.stripe_payment_method_id)
    if method is None or version < method.stripe_updated:
        return False
    method.stripe_updated = version
    fresh = {
        "card_brand": card.brand,
        "last4": card.last4,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
    }
    changed = {name: value for name, value in fresh.items() if value is not None}
    changed = {name: v for name, v in changed.items() if getattr(method, name) != v}
    for name, value in changed.items():
        setattr(method, name, value)
    if changed:
        log.info(
            "card updated",
            stripe_payment_method_id=card.stripe_payment_method_id,
            fields=sorted(changed),
        )
    return bool(changed)


def _retire(uow: UnitOfWork, method: PaymentMethod, *, when: dt.datetime, now: dt.datetime) -> int:
    """Mark the card detached and take it from the subscriptions renewing with it; returns
    how many lost it."""
    if method.detached_at is None:
        method.detached_at = when
    subscriptions = uow.subscriptions.lock_using_method(method.id)
    for subscription in subscriptions:
        subscription.payment_method_id = None
        subscription.updated_at = now
        log.info(
            "subscription needs a new card",
            subscription_id=str(subscription.id),
            stripe_payment_method_id=method.stripe_payment_method_id,
        )
    return len(subscriptions)
