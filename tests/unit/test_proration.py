"""Proration: exact integer arithmetic in minor units, rounded in the customer's favour."""

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_lib.domain.billing import billing_date
from payment_lib.domain.money import minimum_charge, smallest_step
from payment_lib.domain.proration import Proration, period_start, prorate, renewal_charge

UTC = dt.UTC
START = dt.datetime(2027, 1, 1, tzinfo=UTC)
END = dt.datetime(2027, 1, 31, tzinfo=UTC)  # 30 days


def test_an_upgrade_half_way_through_charges_half_the_difference():
    half = START + (END - START) / 2
    assert prorate(999, 2999, "usd", start=START, end=END, now=half) == Proration(1000, 0)


def test_an_upgrade_at_the_periods_start_charges_the_whole_difference():
    assert prorate(999, 2999, "usd", start=START, end=END, now=START) == Proration(2000, 0)


def test_a_charge_is_rounded_down_and_a_credit_up():
    third = START + (END - START) / 3  # two thirds remain
    assert prorate(1000, 2001, "usd", start=START, end=END, now=third).charge == 667
    assert prorate(2001, 1000, "usd", start=START, end=END, now=third).credit == 668


def test_a_downgrade_becomes_a_credit_and_charges_nothing():
    half = START + (END - START) / 2
    assert prorate(2999, 999, "usd", start=START, end=END, now=half) == Proration(0, 1000)


def test_the_same_price_charges_and_credits_nothing():
    assert prorate(999, 999, "usd", start=START, end=END, now=START) == Proration(0, 0)


def test_a_charge_below_stripes_minimum_is_carried_to_the_next_renewal():
    near_end = END - dt.timedelta(hours=1)
    assert prorate(999, 2999, "usd", start=START, end=END, now=near_end) == Proration(0, -2)


def test_kwd_amounts_stay_whole_multiples_of_ten_fils():
    third = START + (END - START) / 3
    result = prorate(10_000, 25_010, "kwd", start=START, end=END, now=third)
    assert result.charge == 10_000  # 10006.67 rounded down to a multiple of 10
    credit = prorate(25_010, 10_000, "kwd", start=START, end=END, now=third).credit
    assert credit == 10_010


def test_the_period_start_is_the_previous_billing_date():
    start = dt.datetime(2027, 1, 31, 9, 30, tzinfo=UTC)
    due = billing_date(start, "month", 1, 3)
    assert period_start(start, "month", 1, due) == billing_date(start, "month", 1, 2)
    assert period_start(start, "month", 1, billing_date(start, "month", 1, 1)) == start


def test_a_renewal_uses_the_credit_first():
    assert renewal_charge(999, 300, "usd") == (699, 0)
    assert renewal_charge(999, 2000, "usd") == (0, 1001)
    assert renewal_charge(999, 0, "usd") == (999, 0)
    assert renewal_charge(999, -2, "usd") == (1001, 0)  # an amount carried forward
    assert renewal_charge(999, 980, "usd") == (0, -19)  # 0.19 is below Stripe's minimum


def test_a_time_outside_the_period_is_refused():
    with pytest.raises(ValueError):
        prorate(1, 2, "usd", start=START, end=END, now=END)


CURRENCIES = st.sampled_from(["jpy", "kwd", "usd"])


@st.composite
def prices(draw, currency):
    step = smallest_step(currency)
    least = max(minimum_charge(currency), step)
    return draw(st.integers(least // step, 1_000_000 // step)) * step


@st.composite
def histories(draw):
    """A currency, a start, and per period the prices in force and the moments of changes."""
    currency = draw(CURRENCIES)
    start = draw(st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2035, 1, 1))).replace(
        tzinfo=UTC
    )
    periods = draw(st.integers(1, 6))
    changes = [
        sorted(draw(st.lists(st.floats(0, 0.999999), max_size=3)))
        for _ in range(periods)
    ]
    plan_prices = [draw(prices(currency)) for _ in range(1 + sum(len(c) for c in changes))]
    return currency, start, changes, plan_prices


def run_history(currency, start, changes, plan_prices, *, at_period_start=False):
    """Pay the first price, change plans at the drawn moments, renew each period; returns
    (every charge, the credit left, the exact prorated price in force, the number of changes)."""
    prices_left = iter(plan_prices[1:])
    price, credit, charges, exact = plan_prices[0], 0, [plan_prices[0]], Fraction(0)
    for n, moments in enumerate(changes):
        begin = billing_date(start, "month", 1, n) if n else start
        end = billing_date(start, "month", 1, n + 1)
        total = (end - begin) // dt.timedelta(microseconds=1)
        used_until = begin
        for fraction in moments:
            now = begin if at_period_start else begin + (end - begin) * fraction
            new = next(prices_left)
            result = prorate(price, new, currency, start=begin, end=end, now=now)
            assert result.charge >= 0
            assert result.charge == 0 or result.charge >= minimum_charge(currency)
            assert result.charge % smallest_step(currency) == 0
            assert result.credit % smallest_step(currency) == 0
            charges.append(result.charge)
            credit += result.credit
            exact += Fraction(price * ((now - used_until) // dt.timedelta(microseconds=1)), total)
            used_until, price = now, new
        exact += Fraction(price * ((end - used_until) // dt.timedelta(microseconds=1)), total)
        charge, credit = renewal_charge(price, credit, currency)
        assert charge >= 0 and (charge == 0 or charge >= minimum_charge(currency))
        charges.append(charge)
    return charges, credit, exact, sum(len(m) for m in changes)


@given(histories())
def test_over_whole_periods_charges_and_credit_used_equal_the_plan_prices(history):
    currency, start, changes, plan_prices = history
    charges, credit, _, _ = run_history(
        currency, start, changes, plan_prices, at_period_start=True
    )
    # Changes at a period's start: that period is priced at the last plan chosen.
    in_force, price, prices_left = [], plan_prices[0], iter(plan_prices[1:])
    for moments in changes:
        for _ in moments:
            price = next(prices_left)
        in_force.append(price)
    # The last renewal pays the period after the ones simulated, at the last price; the
    # credit left (a negative one is owed) is the customer's.
    assert sum(charges) - credit == sum(in_force) + in_force[-1]


@given(histories())
def test_the_customer_never_pays_more_than_the_exact_prorated_price(history):
    currency, start, changes, plan_prices = history
    charges, credit, exact, count = run_history(currency, start, changes, plan_prices)
    last_price = plan_prices[count]
    spent = sum(charges) - credit - last_price  # the last renewal pays the next period
    assert min(charges) >= 0
    assert spent <= exact
    # Rounding gives away at most one step (and a second's worth) per change.
    assert spent >= exact - count * (smallest_step(currency) + max(plan_prices) // 86_400 + 1)
