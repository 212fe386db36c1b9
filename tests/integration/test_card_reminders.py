"""Card-expiring reminders: one email per card and expiry, a configurable number of days
before the month the card expires, only for cards that live subscriptions renew with."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from subscription_helpers import EMAIL, subscribe

from payment_lib import ConfigurationError, Payments, Settings

DAY = dt.timedelta(days=1)


def expiry_month(card):
    return dt.datetime(card.exp_year, card.exp_month, 1, tzinfo=dt.UTC)


def reminders(payments):
    with payments.database.engine.connect() as connection:
        query = sa.text(
            "SELECT recipient, dedupe_key, payload FROM notifications WHERE kind = 'card_expiring'"
        )
        return [tuple(row) for row in connection.execute(query)]


def test_a_card_gets_one_reminder_within_the_days_before_its_expiry_month(payments, plan, user_id):
    subscribe(payments, user_id)
    [card] = payments.list_cards(user_id)
    month = expiry_month(card)

    assert payments.remind_expiring_cards(now=month - 31 * DAY) == 0
    assert payments.remind_expiring_cards(now=month - 29 * DAY) == 1
    assert payments.remind_expiring_cards(now=month - 28 * DAY) == 0
    assert payments.remind_expiring_cards(now=month + 3 * DAY) == 0

    [(recipient, key, payload)] = reminders(payments)
    assert recipient == EMAIL
    assert key == f"card_expiring:{card.id}:{card.exp_year}-{card.exp_month}"
    payload = payload if isinstance(payload, dict) else __import__("json").loads(payload)
    assert payload["last4"] == "4242" and payload["brand"] == "visa"
    assert payload["expires"] == f"{card.exp_month:02d}/{card.exp_year}"


def test_a_card_with_a_new_expiry_is_reminded_of_that_one_too(payments, plan, user_id):
    subscribe(payments, user_id)
    [card] = payments.list_cards(user_id)
    payments.remind_expiring_cards(now=expiry_month(card) - DAY)
    with payments.database.engine.begin() as connection:  # the card network's updater
        connection.execute(sa.text("UPDATE payment_methods SET exp_year = exp_year + 1"))

    assert payments.remind_expiring_cards(now=expiry_month(card) - DAY) == 0
    later = expiry_month(card).replace(year=card.exp_year + 1)
    assert payments.remind_expiring_cards(now=later - DAY) == 1
    assert len(reminders(payments)) == 2


def test_a_user_without_a_live_subscription_gets_no_reminder(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    payments.cancel_subscription(subscription.id)
    [card] = payments.list_cards(user_id)

    assert payments.remind_expiring_cards(now=expiry_month(card) - DAY) == 0
    assert reminders(payments) == []


def test_a_paused_subscription_s_card_is_reminded(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    payments.pause_subscription(subscription.id)
    [card] = payments.list_cards(user_id)
    assert payments.remind_expiring_cards(now=expiry_month(card) - DAY) == 1


def test_an_expired_card_gets_no_reminder(payments, plan, user_id):
    subscribe(payments, user_id)
    [card] = payments.list_cards(user_id)
    after = expiry_month(card) + 40 * DAY
    assert payments.remind_expiring_cards(now=after) == 0


def test_two_subscriptions_on_one_card_make_one_reminder(payments, plan, user_id):
    payments.add_plan("pro-monthly", name="Pro", amount="19.99", currency="usd", interval="month")
    subscribe(payments, user_id)
    [card] = payments.list_cards(user_id)
    second = payments.pay(
        user_id=user_id,
        amount="19.99",
        currency="usd",
        payment_method="pm_card_visa",
        idempotency_key=str(uuid.uuid4()),
        plan_id="pro-monthly",
        customer_email=EMAIL,
    )
    payments.change_payment_method(second.subscription_id, card.id)

    assert payments.remind_expiring_cards(now=expiry_month(card) - DAY) == 1


def test_the_number_of_days_is_a_setting(settings, plan, user_id, payments):
    subscribe(payments, user_id)
    [card] = payments.list_cards(user_id)
    month = expiry_month(card)
    for days, before, expected in [(0, DAY, 0), (10, 11 * DAY, 0), (10, 9 * DAY, 1)]:
        tuned = Settings(**{**settings.model_dump(), "card_expiry_reminder_days": days})
        with Payments.from_settings(tuned, registry=CollectorRegistry()) as other:
            assert other.remind_expiring_cards(now=month - before) == expected


def test_a_negative_number_of_days_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="card_expiry_reminder_days"):
        Settings(card_expiry_reminder_days=-1)
    assert Settings().card_expiry_reminder_days == 30


def test_the_worker_queues_the_reminders(payments, plan, user_id):
    subscribe(payments, user_id)
    [card] = payments.list_cards(user_id)
    now = expiry_month(card) - 5 * DAY

    first = payments.run_worker_once(now=now)
    second = payments.run_worker_once(now=now)

    assert (first.card_reminders, second.card_reminders) == (1, 0)
    assert first.to_dict()["card_reminders"] == 1


def test_cards_reminded_before_are_left_out_by_the_query_itself(payments, plan, user_id):
    subscribe(payments, user_id)
    [card] = payments.list_cards(user_id)
    month = card.exp_year * 12 + card.exp_month - 1
    with payments.database.unit_of_work() as uow:
        assert len(uow.saved_cards.expiring_in_use(month, month, reminded="card_expiring")) == 1

    payments.remind_expiring_cards(now=expiry_month(card) - DAY)

    with payments.database.unit_of_work() as uow:
        assert uow.saved_cards.expiring_in_use(month, month, reminded="card_expiring") == []
