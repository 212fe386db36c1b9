"""Billing dates: anchored on the start day, clamped to month end, never drifting (UTC)."""

import calendar
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_lib.domain.billing import billing_date, next_billing_date_after

UTC = dt.UTC


def at(year, month, day):
    return dt.datetime(year, month, day, 9, 30, tzinfo=UTC)


def test_month_end_anchor_clamps_without_drifting():
    start = at(2027, 1, 31)
    dates = [billing_date(start, "month", 1, n) for n in range(1, 5)]
    assert [d.date() for d in dates] == [
        dt.date(2027, 2, 28),
        dt.date(2027, 3, 31),
        dt.date(2027, 4, 30),
        dt.date(2027, 5, 31),
    ]


def test_leap_year_february_gets_the_29th():
    assert billing_date(at(2028, 1, 31), "month", 1, 1).date() == dt.date(2028, 2, 29)


def test_yearly_from_february_29th():
    start = at(2028, 2, 29)
    assert billing_date(start, "year", 1, 1).date() == dt.date(2029, 2, 28)
    assert billing_date(start, "year", 1, 4).date() == dt.date(2032, 2, 29)


def test_interval_count_multiplies_the_period():
    assert billing_date(at(2027, 1, 15), "month", 3, 2).date() == dt.date(2027, 7, 15)


def test_time_of_day_and_utc_are_kept():
    date = billing_date(at(2027, 1, 31), "month", 1, 1)
    assert (date.hour, date.minute, date.tzinfo) == (9, 30, UTC)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        billing_date(dt.datetime(2027, 1, 1), "month", 1, 1)


def test_next_date_after_a_given_moment():
    start = at(2027, 1, 31)
    assert next_billing_date_after(start, "month", 1, at(2027, 2, 28)).date() == dt.date(
        2027, 3, 31
    )
    assert next_billing_date_after(start, "month", 1, at(2027, 2, 27)).date() == dt.date(
        2027, 2, 28
    )


anchors = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(anchors, st.integers(1, 300), st.integers(1, 3))
def test_monthly_dates_keep_the_anchor_day_or_the_months_last(start, n, count):
    date = billing_date(start, "month", count, n)
    months = (date.year - start.year) * 12 + date.month - start.month
    assert months == n * count
    last = calendar.monthrange(date.year, date.month)[1]
    assert date.day == min(start.day, last)
    assert date.time() == start.time()


@given(anchors, st.integers(1, 200))
def test_dates_strictly_increase(start, n):
    assert billing_date(start, "month", 1, n) < billing_date(start, "month", 1, n + 1)


@given(anchors, st.integers(1, 30))
def test_yearly_is_twelve_months(start, n):
    assert billing_date(start, "year", 1, n) == billing_date(start, "month", 12, n)
