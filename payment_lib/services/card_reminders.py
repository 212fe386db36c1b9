"""Card-expiring reminders: an email a number of days before the month a card expires.

Only for cards that live subscriptions (trialing, active, past due, paused) renew with, and
not removed; once per card and expiry (the dedupe key names the card and its expiry, so a
card the network's updater gave a new expiry is reminded again when that one nears). A card
is valid through the end of its expiry month: the reminder goes from ``days`` before that
month starts until the month ends, to the oldest such subscription's email.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import structlog

from payment_lib.services.notify import notify
from payment_lib.services.ports import NewUnitOfWork

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics

log = structlog.get_logger(__name__)

KIND = "card_expiring"


def remind_expiring_cards(
    now: dt.datetime, *, days: int, new_uow: NewUnitOfWork, metrics: Metrics
) -> int:
    """Queue a ``card_expiring`` email for each card in use whose expiry month starts within
    ``days`` of ``now`` (and has not ended); returns how many were queued (0 when ``days``
    is 0)."""
    if days <= 0:
        return 0
    horizon = now + dt.timedelta(days=days)
    first, last = _month(now), _month(horizon)
    queued = 0
    with new_uow() as uow:
        told = set()
        due = uow.saved_cards.expiring_in_use(first, last, reminded=KIND)
        for method, subscription in due:
            if method.id in told or not subscription.customer_email:
                continue
            told.add(method.id)
            queued += notify(
                uow,
                KIND,
                recipient=subscription.customer_email,
                about=f"{method.stripe_payment_method_id}:{method.exp_year}-{method.exp_month}",
                payload={
                    "brand": method.card_brand or "card",
                    "last4": method.last4,
                    "expires": f"{method.exp_month:02d}/{method.exp_year}",
                },
                now=now,
            )
        uow.commit()
    if queued:
        log.info("card expiry reminders queued", count=queued)
        metrics.card_expiry_reminders_total.inc(queued)
    return queued


def _month(moment: dt.datetime) -> int:
    """Months counted as year * 12 + month - 1, as cards' expiries are compared."""
    return moment.year * 12 + moment.month - 1
