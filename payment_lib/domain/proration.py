"""Proration: what a plan change in the middle of a paid period charges or credits.

Exact integer arithmetic in minor units; no floats. Time is the current period
``[start, end)`` (end = the next billing date) measured in microseconds, then the time left
is taken in whole seconds, and every rounding goes the customer's way:

- an upgrade charges ``(new - old) * seconds_left / period_seconds``, seconds left rounded
  down, the amount rounded down to the currency's smallest step (KWD: 10 fils);
- a downgrade (or the same price) credits ``(old - new) * seconds_left / period_seconds``,
  seconds left rounded up, the amount rounded up to the smallest step;
- a charge below Stripe's minimum for the currency is not charged now: it is carried to the
  next renewal as a negative credit (an amount owed), so nothing is lost either way.

The subscription's credit is used by the next renewals before the card is charged
(``renewal_charge``). Over whole periods the charges, less the credit left, equal the plan
prices (tests/unit/test_proration.py checks it with random dates, amounts and currencies).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from payment_lib.domain.billing import billing_date
from payment_lib.domain.money import minimum_charge, smallest_step

_MICROSECOND = dt.timedelta(microseconds=1)
_PER_SECOND = 1_000_000


@dataclass(frozen=True)
class Proration:
    """What a change now does to the money: ``charge`` now (0, or at least Stripe's minimum),
    and the change to the subscription's ``credit`` (positive: given back at the next
    renewals; negative: a charge too small for Stripe, owed at the next renewal)."""

    charge: int
    credit: int


def period_start(
    start: dt.datetime, interval: str, interval_count: int, next_billing: dt.datetime
) -> dt.datetime:
    """The start of the period that ends at ``next_billing`` (the start itself for the first)."""
    n = 1
    previous = start
    while (date := billing_date(start, interval, interval_count, n)) < next_billing:
        previous, n = date, n + 1
    return previous


def prorate(
    old_price: int,
    new_price: int,
    currency: str,
    *,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
) -> Proration:
    """The charge or credit of moving from ``old_price`` to ``new_price`` (minor units, one
    period's price each) at ``now`` in the period ``[start, end)``; see the module docstring.

    Raises:
        ValueError: ``now`` is outside the period, or a price is negative.
    """
    if not start <= now < end:
        raise ValueError("a plan change must happen inside the current period")
    if old_price < 0 or new_price < 0:
        raise ValueError("prices are never negative")
    total = (end - start) // _MICROSECOND
    left = (end - now) // _MICROSECOND
    step = smallest_step(currency)
    difference = new_price - old_price
    if difference > 0:
        seconds = left // _PER_SECOND  # a started second counts as used
        charge = difference * seconds * _PER_SECOND // (total * step) * step
        if charge < minimum_charge(currency):
            return Proration(0, -charge)
        return Proration(charge, 0)
    seconds = -(-left // _PER_SECOND)  # a started second counts as left
    given_back = -difference
    credit = -(-given_back * seconds * _PER_SECOND // (total * step)) * step  # rounded up
    return Proration(0, min(credit, given_back))


def renewal_charge(price: int, credit: int, currency: str) -> tuple[int, int]:
    """What a renewal at ``price`` charges given the subscription's ``credit``, and the credit
    left: the credit is used first; a charge below Stripe's minimum is carried (owed) to the
    next renewal instead. Always ``charge + credit - left == price``."""
    due = price - credit
    if due <= 0 or due < minimum_charge(currency):
        return 0, credit - price
    return due, 0
