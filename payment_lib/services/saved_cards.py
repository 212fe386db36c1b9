"""A user's saved cards: listed (safe details only), one made the default, one removed.

The default card is the one the user's live subscriptions renew with: making a card the
default moves every live subscription's renewals to it (a past-due one whose card was
hard-declined is retried at once, as with ``change_payment_method``) and makes it the Stripe
Customer's ``invoice_settings.default_payment_method``. Removing a card detaches it at
Stripe, for good; a card a live subscription renews with is refused (make another card the
default, or cancel, first), so no subscription is left without a card by a removal.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from payment_lib.db.tables import PaymentMethod
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.errors import InvalidRequest, NotFound
from payment_lib.domain.states import SubscriptionStatus
from payment_lib.observability import iso
from payment_lib.services.cards import card_detached
from payment_lib.services.payment_requests import parse_uuid
from payment_lib.services.ports import NewUnitOfWork

if TYPE_CHECKING:
    from payment_lib.services.ports import StripeGateway

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CardInfo:
    """A saved card as its owner sees it: never a number, only brand, last 4 and expiry."""

    id: str  # Stripe's PaymentMethod id (pm_...)
    user_id: uuid.UUID
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    default: bool  # a live subscription renews with it
    subscriptions: list[uuid.UUID]  # the live subscriptions that renew with it
    removed_at: dt.datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "user_id": str(self.user_id),
            "brand": self.brand,
            "last4": self.last4,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "default": self.default,
            "subscriptions": [str(s) for s in self.subscriptions],
            "removed_at": iso(self.removed_at),
        }


def list_cards(user_id: object, *, new_uow: NewUnitOfWork) -> list[CardInfo]:
    """The user's saved cards not removed, oldest first."""
    user = parse_uuid(user_id, "user_id")
    with new_uow() as uow:
        methods = uow.saved_cards.for_user(user)
        using = uow.saved_cards.live_using([m.id for m in methods])
        return [_info(m, using[m.id]) for m in methods]


def set_default_card(
    user_id: object,
    payment_method: object,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    now: dt.datetime,
) -> CardInfo:
    """Make one of the user's saved cards the default: at Stripe first, then every live
    subscription of the user renews with it.

    Raises:
        InvalidRequest: not a pm_ id, or the card was removed; NotFound: the user has no such
            card; ProviderUnavailable. Nothing changes on any error.
    """
    user = parse_uuid(user_id, "user_id")
    stripe_id = _stripe_id(payment_method)
    with new_uow() as uow:
        method = _usable(uow, stripe_id, user)
        customer = method.stripe_customer_id
    assert customer is not None
    gateway.set_default_payment_method(
        customer,
        stripe_id,
        # A new request each time (A, then B, then A again must set A again); its own retries
        # reuse the key.
        idempotency_key=f"payment_lib-default-card-{customer}-{uuid.uuid4()}",
    )
    with new_uow() as uow:
        method = _usable(uow, stripe_id, user, lock=True)
        subscriptions = uow.saved_cards.live_subscriptions(user)
        for subscription in subscriptions:
            subscription.payment_method_id = method.id
            if (
                subscription.status == SubscriptionStatus.PAST_DUE
                and subscription.next_retry_at is None
            ):
                subscription.next_retry_at = now  # a hard decline waited for a new card
            subscription.updated_at = now
        uow.commit()
        log.info(
            "default card set",
            user_id=str(user),
            stripe_payment_method_id=stripe_id,
            subscriptions=len(subscriptions),
        )
        return _info(method, [s.id for s in subscriptions])


def remove_card(
    payment_method: object, *, new_uow: NewUnitOfWork, gateway: StripeGateway, now: dt.datetime
) -> CardInfo:
    """Detach a saved card at Stripe and stop listing it. Removing a removed card changes
    nothing and returns it as it is.

    Raises:
        InvalidRequest: not a pm_ id, or a live subscription renews with the card; NotFound;
            ProviderUnavailable. Nothing changes on any error.
    """
    stripe_id = _stripe_id(payment_method)
    with new_uow() as uow:
        method = _known(uow, stripe_id)
        if method.detached_at is not None:
            return _info(method, [])
        using = uow.saved_cards.live_using([method.id])[method.id]
        if using:
            raise InvalidRequest(
                f"Live subscription(s) {', '.join(str(s) for s in using)} renew with this card: "
                "make another card the default, or cancel them, first.",
                param="payment_method",
            )
    # Detaching is for good (a detached card is never attached again): one key per card.
    gateway.detach_payment_method(stripe_id, idempotency_key=f"payment_lib-detach-{stripe_id}")
    with new_uow() as uow:
        # As Stripe's payment_method.detached does: a subscription that took the card meanwhile
        # loses it, and no late event gives it back.
        card_detached(uow, stripe_id, when=now, now=now)
        uow.commit()
        method = _known(uow, stripe_id)
        log.info("card removed", user_id=str(method.user_id), stripe_payment_method_id=stripe_id)
        return _info(method, [])


def _stripe_id(payment_method: object) -> str:
    refuse_card_numbers({"payment_method": payment_method})
    if not isinstance(payment_method, str) or not payment_method.startswith("pm_"):
        raise InvalidRequest(
            "payment_method must be a saved card's Stripe PaymentMethod id (pm_...), as "
            "list_cards shows it.",
            param="payment_method",
        )
    return payment_method


def _known(uow: UnitOfWork, stripe_id: str, *, lock: bool = False) -> PaymentMethod:
    find = uow.payment_methods.lock_by_stripe_id if lock else uow.payment_methods.by_stripe_id
    method = find(stripe_id)
    if method is None:
        raise NotFound(f"No saved card {stripe_id}.")
    return method


def _usable(
    uow: UnitOfWork, stripe_id: str, user: uuid.UUID, *, lock: bool = False
) -> PaymentMethod:
    """The user's card, not removed, saved on a Stripe Customer."""
    method = _known(uow, stripe_id, lock=lock)
    if method.user_id != user:
        raise NotFound(f"User {user} has no saved card {stripe_id}.")
    if method.detached_at is not None or method.stripe_customer_id is None:
        raise InvalidRequest(
            "This card was removed; it cannot be used again.", param="payment_method"
        )
    return method


def _info(method: PaymentMethod, subscriptions: list[uuid.UUID]) -> CardInfo:
    return CardInfo(
        id=method.stripe_payment_method_id,
        user_id=method.user_id,
        brand=method.card_brand,
        last4=method.last4,
        exp_month=method.exp_month,
        exp_year=method.exp_year,
        default=bool(subscriptions),
        subscriptions=subscriptions,
        removed_at=method.detached_at,
    )
