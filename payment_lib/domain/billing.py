"""Billing dates, in one place: UTC, anchored on the start, clamped to the month's last day.

The n-th renewal is always computed from the start date, never from the previous renewal, so
Jan 31 → Feb 28 (29) → Mar 31 → Apr 30 and the anchor never drifts.
"""

from __future__ import annotations

import calendar
import datetime as dt

MONTHS_PER = {"month": 1, "year": 12}


def billing_date(start: dt.datetime, interval: str, interval_count: int, n: int) -> dt.datetime:
    """The date of the ``n``-th renewal (n >= 1) of a plan started at ``start``."""
    if start.tzinfo is None:
        raise ValueError("billing dates need an aware datetime")
    start = start.astimezone(dt.UTC)
    months = MONTHS_PER[interval] * interval_count * n
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def next_billing_date_after(
    start: dt.datetime, interval: str, interval_count: int, moment: dt.datetime
) -> dt.datetime:
    """The first renewal date strictly after ``moment``."""
    n = 1
    while (date := billing_date(start, interval, interval_count, n)) <= moment:
        n += 1
    return date
