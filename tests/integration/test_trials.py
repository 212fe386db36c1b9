"""Trials: a plan's trial days, a trial started with a card saved by a SetupIntent (no charge)
or without a card, its end (the first charge, or the end of a card-less trial), the
trial-ending reminder, on both databases over the emulator."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from payment_lib import InvalidRequest, ProviderUnavailable
from payment_lib.domain.billing import billing_date

EMAIL = "ada@example.com"
PLAN = "pro-trial"


@pytest.fixture
def plan(payments):
    return payments.add_plan(
        PLAN, name="Pro", amount="29.00", currency="usd", interval="month", trial_days=14
    )


def start(payments, user_id, method="pm_card_visa", **extra):
    return payments.start_trial(
        user_id=user_id, plan_id=PLAN, payment_method=method, customer_email=EMAIL, **extra
    )


def rows(payments, query, **params):
    with payments.database.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(query), params)]


def emails(payments, kind):
    return [
        json.loads(payload) if isinstance(payload, str) else payload
        for (payload,) in rows(
            payments, "SELECT payload FROM notifications WHERE kind = :kind", kind=kind
        )
    ]


def test_a_plan_keeps_its_trial_days(payments, plan):
    assert plan.trial_days == 14
    assert [p.trial_days for p in payments.list_plans()] == [14]
    assert plan.to_dict()["trial_days"] == 14


@pytest.mark.parametrize("days", [-1, 1.5, "3", True, 731])
def test_a_bad_number_of_trial_days_is_refused_and_adds_no_plan(payments, days):
    with pytest.raises(InvalidRequest, match="trial_days"):
        payments.add_plan(
            "p", name="P", amount="1.00", currency="usd", interval="month", trial_days=days
        )
    assert payments.list_plans() == []


def test_a_trial_with_a_card_starts_trialing_without_a_charge(payments, plan, user_id):
    trial = start(payments, user_id)

    assert trial.status == "trialing"
    assert trial.trial_ends_at == trial.start_date + dt.timedelta(days=14)
    assert trial.next_billing_date == trial.trial_ends_at
    assert trial.to_dict()["trial_ends_at"] == trial.trial_ends_at.isoformat()
    assert payments.list_payments(user_id) == []
    assert rows(payments, "SELECT last4 FROM payment_methods") == [("4242",)]


@pytest.mark.emulator_only
def test_a_trials_card_is_set_up_off_session_and_attached_to_the_users_customer(
    payments, plan, user_id, stripe_emulator
):
    start(payments, user_id)

    [setup] = stripe_emulator.objects("setup_intent")
    [method] = [m for m in stripe_emulator.objects("payment_method") if m["customer"]]
    assert (setup["status"], setup["usage"], setup["customer"]) == (
        "succeeded",
        "off_session",
        method["customer"],
    )
    assert (stripe_emulator.count("charge"), stripe_emulator.count("payment_intent")) == (0, 0)


@pytest.mark.parametrize(
    ("method", "said"),
    [
        ("pm_card_chargeDeclined", "declined"),
        ("pm_card_chargeDeclinedExpiredCard", "expired"),
        ("pm_card_authenticationRequired", "authentication"),
    ],
)
def test_a_card_that_cannot_be_set_up_is_refused_and_starts_nothing(
    payments, plan, user_id, method, said
):
    with pytest.raises(InvalidRequest, match=said) as raised:
        start(payments, user_id, method)

    assert raised.value.param == "payment_method"
    assert payments.list_subscriptions(user_id) == []
    assert rows(payments, "SELECT id FROM payment_methods") == []


@pytest.mark.emulator_only
def test_a_trial_without_a_card_makes_no_stripe_call_and_ends_at_the_trials_end(
    payments, plan, user_id, stripe_emulator
):
    trial = start(payments, user_id, method=None)
    assert (trial.status, stripe_emulator.count("setup_intent")) == ("trialing", 0)

    report = payments.run_billing(now=trial.trial_ends_at)

    ended = payments.get_subscription(trial.id)
    assert (report.ended, report.charged) == ([trial.id], [])
    assert (ended.status, ended.end_date) == ("expired", trial.trial_ends_at)
    assert [e["plan_id"] for e in emails(payments, "trial_ended")] == [PLAN]
    assert emails(payments, "expiry") == []


def test_a_card_added_during_a_card_less_trial_is_charged_at_the_trials_end(
    payments, plan, user_id
):
    trial = start(payments, user_id, method=None)
    payments.change_payment_method(trial.id, "pm_card_visa")

    report = payments.run_billing(now=trial.trial_ends_at)

    assert [(p.status, p.amount.minor) for p in report.charged] == [("succeeded", 2900)]
    assert payments.get_subscription(trial.id).status == "active"


def test_the_trials_end_charges_once_however_often_billing_runs(payments, plan, user_id):
    trial = start(payments, user_id)
    due = trial.trial_ends_at

    first = payments.run_billing(now=due)
    again = payments.run_billing(now=due + dt.timedelta(hours=1))

    active = payments.get_subscription(trial.id)
    assert (len(first.charged), again.charged) == (1, [])
    assert [(p.status, p.amount.minor) for p in payments.list_payments(user_id)] == [
        ("succeeded", 2900)
    ]
    assert active.status == "active"
    # The billing anchor is the trial's end: renewals fall a period after it.
    assert active.next_billing_date == billing_date(due, "month", 1, 1)


def test_nothing_is_due_before_the_trial_ends(payments, plan, user_id):
    trial = start(payments, user_id)

    report = payments.run_billing(now=trial.trial_ends_at - dt.timedelta(seconds=1))

    assert (report.charged, report.ended) == ([], [])
    assert payments.get_subscription(trial.id).status == "trialing"


def test_a_declined_first_charge_at_the_trials_end_makes_the_subscription_past_due(
    payments, plan, user_id
):
    # This card sets up fine and declines charges.
    trial = start(payments, user_id, "pm_card_chargeCustomerFail")

    payments.run_billing(now=trial.trial_ends_at)

    after = payments.get_subscription(trial.id)
    assert (after.status, after.failed_attempts) == ("past_due", 1)
    assert after.next_retry_at == trial.trial_ends_at + dt.timedelta(days=1)
    assert len(emails(payments, "past_due")) == 1


@pytest.mark.parametrize("at_period_end", [False, True])
def test_a_cancelled_trial_is_never_charged(payments, plan, user_id, at_period_end):
    trial = start(payments, user_id)
    payments.cancel_subscription(trial.id, at_period_end=at_period_end)

    payments.run_billing(now=trial.trial_ends_at)
    payments.run_billing(now=trial.trial_ends_at + dt.timedelta(days=40))

    assert payments.list_payments(user_id) == []
    assert payments.get_subscription(trial.id).status == "cancelled"


def test_the_trial_ending_reminder_is_queued_once_within_the_reminder_days(payments, plan, user_id):
    trial = start(payments, user_id)
    ends = trial.trial_ends_at

    early = payments.run_billing(now=ends - dt.timedelta(days=3, seconds=1))
    first = payments.run_billing(now=ends - dt.timedelta(days=2))
    again = payments.run_billing(now=ends - dt.timedelta(days=1))

    assert (early.trial_reminders, first.trial_reminders, again.trial_reminders) == (0, 1, 0)
    [reminder] = emails(payments, "trial_ending")
    assert (reminder["subscription_id"], reminder["amount"], reminder["currency"]) == (
        str(trial.id),
        "29.00",
        "usd",
    )
    assert reminder["trial_ends_at"] == ends.isoformat()


def test_a_card_less_trials_reminder_asks_for_a_card(payments, plan, user_id):
    trial = start(payments, user_id, method=None)

    payments.run_billing(now=trial.trial_ends_at - dt.timedelta(days=1))

    [reminder] = emails(payments, "trial_ending")
    assert "add a card" in reminder["next_step"]


def test_a_dry_run_queues_no_reminder(payments, plan, user_id):
    trial = start(payments, user_id)

    payments.run_billing(now=trial.trial_ends_at - dt.timedelta(days=1), dry_run=True)

    assert emails(payments, "trial_ending") == []


def test_a_user_gets_a_plans_trial_once(payments, plan, user_id):
    trial = start(payments, user_id)
    with pytest.raises(InvalidRequest, match="already subscribed"):
        start(payments, user_id)
    payments.cancel_subscription(trial.id)

    with pytest.raises(InvalidRequest, match="trial"):
        start(payments, user_id)
    assert len(payments.list_subscriptions(user_id)) == 1


def test_a_plan_without_trial_days_cannot_start_a_trial(payments, user_id):
    payments.add_plan("basic", name="Basic", amount="9.99", currency="usd", interval="month")

    with pytest.raises(InvalidRequest, match="no trial"):
        payments.start_trial(user_id=user_id, plan_id="basic", payment_method="pm_card_visa")
    with pytest.raises(InvalidRequest, match="No plan"):
        payments.start_trial(user_id=user_id, plan_id="nope")
    assert payments.list_subscriptions(user_id) == []


def test_a_bad_payment_method_is_refused_before_stripe(payments, plan, user_id):
    with pytest.raises(InvalidRequest) as raised:
        start(payments, user_id, "card_4242")

    assert raised.value.param == "payment_method"
    assert payments.list_subscriptions(user_id) == []


def test_a_trial_cancelled_at_its_end_gets_no_reminder(payments, plan, user_id):
    trial = start(payments, user_id)
    payments.cancel_subscription(trial.id, at_period_end=True)

    report = payments.run_billing(now=trial.trial_ends_at - dt.timedelta(days=1))

    assert (report.trial_reminders, emails(payments, "trial_ending")) == (0, [])


@pytest.mark.emulator_only
def test_a_lost_answer_stores_nothing_and_the_retry_gets_the_same_setup_intent(
    payments, plan, user_id, stripe_emulator
):
    # Stripe sets the card up, and every answer is lost (the gateway's three attempts).
    stripe_emulator.faults.set(drop_response=True, times=3, path_prefix="/v1/setup_intents")
    with pytest.raises(ProviderUnavailable):
        start(payments, user_id)
    assert payments.list_subscriptions(user_id) == []

    trial = start(payments, user_id)

    assert trial.status == "trialing"
    assert stripe_emulator.count("setup_intent") == 1


def test_two_simultaneous_starts_make_one_trial(payments, plan, user_id):
    def attempt():
        try:
            return start(payments, user_id)
        except InvalidRequest as refused:
            return refused

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: attempt(), range(2)))

    started = [o for o in outcomes if not isinstance(o, InvalidRequest)]
    assert len(started) == 1
    assert [s.id for s in payments.list_subscriptions(user_id)] == [started[0].id]
