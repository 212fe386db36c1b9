"""Plan changes: upgrades charge the prorated difference now, downgrades wait for the period's
end, credit pays renewals first; refused changes change nothing; one email per change."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from payment_lib import (
    Actor,
    IdempotencyConflict,
    IllegalTransition,
    InvalidRequest,
    Metrics,
    NotFound,
    Payments,
    ProviderUnavailable,
)
from payment_lib.db import Database
from payment_lib.db.tables import Payment
from payment_lib.domain.proration import prorate

EMAIL = "ada@example.com"
PLANS = [
    ("basic-monthly", "9.99", "usd", "month", 1),
    ("pro-monthly", "29.00", "usd", "month", 1),
    ("max-monthly", "99.00", "usd", "month", 1),
    ("tiny-monthly", "0.50", "usd", "month", 1),
    ("basic-yearly", "99.00", "usd", "year", 1),
    ("basic-quarterly", "25.00", "usd", "month", 3),
    ("basic-monthly-eur", "9.99", "eur", "month", 1),
    ("basic-monthly-jpy", "1000", "jpy", "month", 1),
    ("pro-monthly-jpy", "3000", "jpy", "month", 1),
    ("basic-monthly-kwd", "3.000", "kwd", "month", 1),
    ("pro-monthly-kwd", "9.990", "kwd", "month", 1),
    ("old-monthly", "19.00", "usd", "month", 1),
]


class Clock:
    """A clock the test moves (whole seconds, so the arithmetic is easy to follow)."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def shop(settings, clock):
    database = Database(settings.database_url)
    with Payments(
        settings, database=database, metrics=Metrics(CollectorRegistry()), clock=clock
    ) as facade:
        for plan_id, amount, currency, interval, count in PLANS:
            facade.add_plan(
                plan_id,
                name=plan_id,
                amount=amount,
                currency=currency,
                interval=interval,
                interval_count=count,
            )
        with database.engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE plans SET archived_at = :now WHERE id = 'old-monthly'"),
                {"now": clock.now},
            )
        yield facade


def subscribe(shop, user_id, plan_id="basic-monthly"):
    amount, currency = next((p[1], p[2]) for p in PLANS if p[0] == plan_id)
    paid = shop.pay(
        user_id=user_id,
        amount=amount,
        currency=currency,
        payment_method="pm_card_visa",
        idempotency_key=str(uuid.uuid4()),
        plan_id=plan_id,
        customer_email=EMAIL,
    )
    assert paid.status == "succeeded"
    return shop.get_subscription(paid.subscription_id)


def row(shop, subscription_id):
    """The stored plan, scheduled plan, credit and next billing date."""
    with shop.database.unit_of_work() as uow:
        stored = uow.subscriptions.get(uuid.UUID(str(subscription_id)))
        assert stored is not None
        return (stored.plan_id, stored.scheduled_plan_id, stored.credit, stored.next_billing_date)


def emails(shop, kind):
    with shop.database.engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT count(*) FROM notifications WHERE kind = :kind"), {"kind": kind}
        ).scalar_one()


def half_way(clock, subscription):
    period = subscription.next_billing_date - subscription.start_date
    clock.now = subscription.start_date + period / 2


@pytest.mark.parametrize(
    ("basic", "pro", "old_minor", "new_minor", "currency"),
    [
        ("basic-monthly", "pro-monthly", 999, 2900, "usd"),
        ("basic-monthly-jpy", "pro-monthly-jpy", 1000, 3000, "jpy"),
        ("basic-monthly-kwd", "pro-monthly-kwd", 3000, 9990, "kwd"),
    ],
)
def test_an_upgrade_charges_the_prorated_difference_now_and_switches_the_plan(
    shop, clock, user_id, basic, pro, old_minor, new_minor, currency
):
    subscription = subscribe(shop, user_id, basic)
    half_way(clock, subscription)

    change = shop.change_plan(subscription.id, pro)

    expected = prorate(
        old_minor,
        new_minor,
        currency,
        start=subscription.start_date,
        end=subscription.next_billing_date,
        now=clock.now,
    )
    assert expected.charge > 0
    assert (change.status, change.charge.minor, change.charge.currency) == (
        "changed",
        expected.charge,
        currency,
    )
    assert change.payment is not None and change.payment.status == "succeeded"
    assert change.payment.amount.minor == expected.charge
    after = shop.get_subscription(subscription.id)
    assert after.plan_id == pro
    assert after.next_billing_date == subscription.next_billing_date
    assert emails(shop, "plan_changed") == 1


@pytest.mark.emulator_only
def test_repeating_an_upgrade_returns_the_same_payment_and_charges_once(
    shop, clock, user_id, stripe_emulator
):
    subscription = subscribe(shop, user_id)
    half_way(clock, subscription)
    first = shop.change_plan(subscription.id, "pro-monthly")
    clock.now += dt.timedelta(minutes=5)

    again = shop.change_plan(subscription.id, "pro-monthly")

    assert again.payment is not None and first.payment is not None
    assert again.payment.id == first.payment.id and again.replayed
    assert stripe_emulator.count("payment_intent") == 2  # the purchase and the upgrade
    assert emails(shop, "plan_changed") == 1
    assert len(shop.list_payments(user_id)) == 2


def test_a_declined_upgrade_leaves_the_plan_unchanged(shop, clock, user_id):
    subscription = subscribe(shop, user_id)
    shop.change_payment_method(subscription.id, "pm_card_chargeCustomerFail")
    half_way(clock, subscription)

    change = shop.change_plan(subscription.id, "pro-monthly")

    assert change.status == "declined"
    assert change.payment is not None and change.payment.status == "failed"
    assert change.payment.error is not None and change.payment.error.code == "card_declined"
    assert row(shop, subscription.id)[:3] == ("basic-monthly", None, 0)
    assert emails(shop, "plan_changed") == 0

    shop.change_payment_method(subscription.id, "pm_card_visa")
    retried = shop.change_plan(subscription.id, "pro-monthly")
    assert retried.status == "changed" and retried.payment.id != change.payment.id


def test_a_downgrade_waits_for_the_periods_end_then_renews_at_the_new_price(shop, clock, user_id):
    subscription = subscribe(shop, user_id, "pro-monthly")
    half_way(clock, subscription)

    change = shop.change_plan(subscription.id, "basic-monthly")

    assert (change.status, change.charge.minor, change.credit.minor) == ("scheduled", 0, 0)
    assert change.effective_at == subscription.next_billing_date
    assert row(shop, subscription.id)[:2] == ("pro-monthly", "basic-monthly")
    assert shop.get_subscription(subscription.id).scheduled_plan_id == "basic-monthly"

    report = shop.run_billing(now=subscription.next_billing_date)

    assert [(c.status, c.amount.minor) for c in report.charged] == [("succeeded", 999)]
    assert row(shop, subscription.id)[:3] == ("basic-monthly", None, 0)
    assert emails(shop, "plan_changed") == 1


def test_an_immediate_downgrade_becomes_credit_that_the_next_renewal_uses(shop, clock, user_id):
    subscription = subscribe(shop, user_id, "pro-monthly")
    clock.now = subscription.next_billing_date - dt.timedelta(days=5)

    change = shop.change_plan(subscription.id, "basic-monthly", at_period_end=False)

    credit = prorate(
        2900,
        999,
        "usd",
        start=subscription.start_date,
        end=subscription.next_billing_date,
        now=clock.now,
    ).credit
    assert (change.status, change.charge.minor, change.credit.minor) == ("changed", 0, credit)
    assert row(shop, subscription.id)[:3] == ("basic-monthly", None, credit)

    report = shop.run_billing(now=subscription.next_billing_date)

    assert 0 < credit < 999 - 50
    assert [c.amount.minor for c in report.charged] == [999 - credit]
    assert row(shop, subscription.id)[2] == 0


def test_credit_covering_the_whole_price_renews_without_a_charge(shop, clock, user_id):
    subscription = subscribe(shop, user_id, "max-monthly")
    clock.now = subscription.start_date + dt.timedelta(minutes=1)
    change = shop.change_plan(subscription.id, "basic-monthly", at_period_end=False)
    assert change.credit.minor > 999 * 2

    report = shop.run_billing(now=subscription.next_billing_date)

    assert report.charged == [] and report.errors == []
    after = shop.get_subscription(subscription.id)
    assert after.next_billing_date > subscription.next_billing_date
    assert row(shop, subscription.id)[2] == change.credit.minor - 999
    assert len(shop.list_payments(user_id)) == 1


def test_a_dry_run_says_what_would_be_charged_and_changes_nothing(shop, clock, user_id):
    subscription = subscribe(shop, user_id)
    half_way(clock, subscription)

    preview = shop.change_plan(subscription.id, "pro-monthly", dry_run=True)

    assert preview.dry_run and preview.status == "changed" and preview.payment is None
    assert preview.charge.minor > 0
    assert row(shop, subscription.id)[:3] == ("basic-monthly", None, 0)
    assert len(shop.list_payments(user_id)) == 1
    assert emails(shop, "plan_changed") == 0


def test_changing_back_to_the_current_plan_cancels_a_scheduled_downgrade(shop, clock, user_id):
    subscription = subscribe(shop, user_id, "pro-monthly")
    shop.change_plan(subscription.id, "basic-monthly")

    back = shop.change_plan(subscription.id, "pro-monthly")

    assert back.status == "unscheduled"
    assert row(shop, subscription.id)[:2] == ("pro-monthly", None)
    report = shop.run_billing(now=subscription.next_billing_date)
    assert [c.amount.minor for c in report.charged] == [2900]


@pytest.mark.parametrize(
    ("target", "error", "words"),
    [
        ("basic-monthly-eur", InvalidRequest, "currency"),
        ("basic-yearly", InvalidRequest, "interval"),
        ("basic-quarterly", InvalidRequest, "interval"),
        ("basic-monthly", InvalidRequest, "already"),
        ("old-monthly", InvalidRequest, "archived"),
        ("no-such-plan", NotFound, "no-such-plan"),
    ],
)
def test_a_refused_change_changes_nothing(shop, clock, user_id, target, error, words):
    subscription = subscribe(shop, user_id)
    half_way(clock, subscription)
    before = row(shop, subscription.id)

    with pytest.raises(error, match=words):
        shop.change_plan(subscription.id, target)

    assert row(shop, subscription.id) == before
    assert len(shop.list_payments(user_id)) == 1
    assert emails(shop, "plan_changed") == 0


def test_an_ended_subscription_cannot_change_plan(shop, clock, user_id):
    subscription = subscribe(shop, user_id)
    shop.cancel_subscription(subscription.id)
    with pytest.raises(IllegalTransition, match="cancelled"):
        shop.change_plan(subscription.id, "pro-monthly")
    assert row(shop, subscription.id)[0] == "basic-monthly"


def test_a_change_to_a_plan_the_user_already_holds_is_refused(shop, clock, user_id):
    subscription = subscribe(shop, user_id)
    subscribe(shop, user_id, "pro-monthly")
    with pytest.raises(InvalidRequest, match="already subscribed"):
        shop.change_plan(subscription.id, "pro-monthly")
    assert row(shop, subscription.id)[0] == "basic-monthly"


def test_a_small_upgrade_near_the_end_is_carried_to_the_renewal(shop, clock, user_id):
    subscription = subscribe(shop, user_id)
    clock.now = subscription.next_billing_date - dt.timedelta(hours=1)

    change = shop.change_plan(subscription.id, "pro-monthly")

    assert (change.status, change.charge.minor) == ("changed", 0)
    owed = -change.credit.minor
    assert 0 < owed < 50 and change.payment is None
    report = shop.run_billing(now=subscription.next_billing_date)
    assert [c.amount.minor for c in report.charged] == [2900 + owed]
    assert row(shop, subscription.id)[2] == 0


class Ticking(Clock):
    """A clock that moves one second each time it is read: concurrent calls a moment apart."""

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@contextlib.contextmanager
def subscribed_half_way(settings, user_id, plan_ids):
    """A shop on a Ticking clock with ``plan_ids``, and the user's basic-monthly subscription
    half way through its period: for calls made at once from several threads."""
    clock = Ticking()
    database = Database(settings.database_url)
    with Payments(
        settings, database=database, metrics=Metrics(CollectorRegistry()), clock=clock
    ) as shop:
        for plan_id in plan_ids:
            amount = next(p[1] for p in PLANS if p[0] == plan_id)
            shop.add_plan(plan_id, name=plan_id, amount=amount, currency="usd", interval="month")
        subscription = subscribe(shop, user_id)
        half_way(clock, subscription)
        yield shop, subscription


@pytest.mark.emulator_only
def test_concurrent_upgrades_charge_once(settings, user_id, stripe_emulator):
    plan_ids = ("basic-monthly", "pro-monthly")
    with subscribed_half_way(settings, user_id, plan_ids) as (shop, subscription):

        def attempt(_):
            try:
                return shop.change_plan(subscription.id, "pro-monthly")
            except (ProviderUnavailable, IdempotencyConflict):
                return None

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = [r for r in pool.map(attempt, range(4)) if r is not None]

        assert results and {r.payment.id for r in results} == {results[0].payment.id}
        assert stripe_emulator.count("payment_intent") == 2  # the purchase and one upgrade
        assert row(shop, subscription.id)[0] == "pro-monthly"
        assert emails(shop, "plan_changed") == 1


@pytest.mark.emulator_only
def test_concurrent_upgrades_to_different_plans_never_charge_for_a_change_not_made(
    settings, user_id, stripe_emulator
):
    """Basic to pro and basic to max at once: each upgrade charged is applied, from the plan
    the subscription then had (never two charges from basic, one of them paid for nothing)."""
    plan_ids = ("basic-monthly", "pro-monthly", "max-monthly")
    with subscribed_half_way(settings, user_id, plan_ids) as (shop, subscription):

        def attempt(target):
            try:
                return shop.change_plan(subscription.id, target)
            except (ProviderUnavailable, IdempotencyConflict, InvalidRequest):
                return None  # refused: another change is being charged

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(attempt, ["pro-monthly", "max-monthly"] * 2))

        with shop.database.unit_of_work() as uow:
            charged = [
                p.details["plan_change"]
                for p in uow.payments.session.query(Payment).filter_by(kind="proration")
                if p.status == "succeeded"
            ]
        chain = sorted(charged, key=lambda c: c["from_plan_id"] != "basic-monthly")
        assert chain, "one upgrade at least was charged"
        assert chain[0]["from_plan_id"] == "basic-monthly"
        for earlier, later in itertools.pairwise(chain):
            assert later["from_plan_id"] == earlier["to_plan_id"]
        plan_id, scheduled, *_ = row(shop, subscription.id)
        assert plan_id == chain[-1]["to_plan_id"]
        # One email per change: each charged upgrade, and pro scheduled after max, if it was.
        assert emails(shop, "plan_changed") == len(chain) + (scheduled is not None)


def upgrade_with_its_answer_lost(shop, subscription, stripe_emulator) -> None:
    """Upgrade to pro; Stripe charges, but its answer never arrives."""
    stripe_emulator.faults.set(drop_response=True, path_prefix="/v1/payment_intents")
    with pytest.raises(ProviderUnavailable):
        shop.change_plan(subscription.id, "pro-monthly")
    stripe_emulator.faults.clear()


@pytest.mark.emulator_only
def test_an_upgrade_paid_after_the_subscription_ended_is_refunded_automatically(
    shop, clock, user_id, stripe_emulator
):
    """The upgrade's answer is lost, the subscription is cancelled, then recovery learns the
    charge succeeded: it paid for nothing. The worker's refund pass gives it back, once."""
    subscription = subscribe(shop, user_id)
    half_way(clock, subscription)
    upgrade_with_its_answer_lost(shop, subscription, stripe_emulator)
    shop.cancel_subscription(subscription.id)
    clock.now += dt.timedelta(seconds=1)
    [settled] = shop.recover_stale_payments(older_than_seconds=0)
    assert settled.status == "succeeded"

    [refund] = shop.refund_duplicate_purchases()

    assert (refund.payment_id, refund.amount.amount) == (settled.id, settled.amount.amount)
    assert refund.status == "succeeded"
    assert shop.refund_duplicate_purchases() == []
    assert shop.get_payment(settled.id).status == "refunded"
    ended = shop.get_subscription(subscription.id)
    assert (ended.status, ended.plan_id) == ("cancelled", "basic-monthly")


@pytest.mark.emulator_only
def test_an_upgrade_whose_answer_was_lost_switches_the_plan_when_recovery_settles_it(
    shop, clock, user_id, stripe_emulator
):
    subscription = subscribe(shop, user_id)
    half_way(clock, subscription)
    upgrade_with_its_answer_lost(shop, subscription, stripe_emulator)
    assert row(shop, subscription.id)[0] == "basic-monthly"
    clock.now += dt.timedelta(seconds=1)

    [settled] = shop.recover_stale_payments(older_than_seconds=0)

    assert settled.status == "succeeded"
    assert row(shop, subscription.id)[0] == "pro-monthly"
    again = shop.change_plan(subscription.id, "pro-monthly")
    assert (again.status, again.payment.id, again.replayed) == ("changed", settled.id, True)
    assert stripe_emulator.count("payment_intent") == 2
    assert emails(shop, "plan_changed") == 1


def test_each_change_without_a_charge_sends_one_email(shop, clock, user_id):
    subscription = subscribe(shop, user_id, "pro-monthly")
    half_way(clock, subscription)
    shop.change_plan(subscription.id, "basic-monthly", at_period_end=False)
    with pytest.raises(InvalidRequest):
        shop.change_plan(subscription.id, "basic-monthly", at_period_end=False)
    assert emails(shop, "plan_changed") == 1


def set_status(shop, subscription_id, status):
    with shop.database.unit_of_work() as uow:
        stored = uow.subscriptions.get(uuid.UUID(str(subscription_id)), for_update=True)
        stored.status = status
        uow.commit()


@pytest.mark.parametrize("status", ["past_due", "paused"])
def test_a_past_due_or_paused_subscription_cannot_change_plan(shop, clock, user_id, status):
    subscription = subscribe(shop, user_id)
    set_status(shop, subscription.id, status)
    before = row(shop, subscription.id)
    with pytest.raises(IllegalTransition, match=status):
        shop.change_plan(subscription.id, "pro-monthly")
    assert row(shop, subscription.id) == before


def test_a_trialing_subscription_changes_now_without_proration(shop, clock, user_id):
    subscription = subscribe(shop, user_id)
    set_status(shop, subscription.id, "trialing")
    half_way(clock, subscription)

    change = shop.change_plan(subscription.id, "pro-monthly")

    assert (change.status, change.charge.minor, change.credit.minor) == ("changed", 0, 0)
    assert change.payment is None and len(shop.list_payments(user_id)) == 1
    assert row(shop, subscription.id)[0] == "pro-monthly"


def test_plan_changes_are_counted_by_outcome(shop, clock, user_id):
    subscription = subscribe(shop, user_id)
    half_way(clock, subscription)
    shop.change_plan(subscription.id, "pro-monthly", dry_run=True)
    shop.change_plan(subscription.id, "pro-monthly")
    shop.change_plan(subscription.id, "basic-monthly")

    def counted(outcome):
        value = shop.metrics.registry.get_sample_value(
            "plan_changes_total", {"outcome": outcome}
        )
        return value or 0

    assert (counted("changed"), counted("scheduled")) == (1, 1)


def test_a_full_refund_of_an_upgrade_charge_keeps_the_subscription(shop, clock, user_id):
    """Refunding the prorated difference (a goodwill gesture) does not end the subscription:
    only a full refund of the purchase or a renewal cancels it (seed T047)."""
    subscription = subscribe(shop, user_id)
    half_way(clock, subscription)
    change = shop.change_plan(subscription.id, "pro-monthly")
    assert change.status == "changed" and change.payment is not None

    refund = shop.refund(change.payment.id, actor=Actor.admin("ada"), reason="duplicate")

    assert refund.status == "succeeded"
    assert shop.get_payment(change.payment.id).status == "refunded"
    kept = shop.get_subscription(subscription.id)
    assert (kept.status, kept.plan_id) == ("active", "pro-monthly")
