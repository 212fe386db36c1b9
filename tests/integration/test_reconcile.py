"""Reconcile: our record against Stripe's over a window; every drift found by kind, and --fix
applies Stripe's truth through the usual outcome paths, calling no mutating endpoint."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
import structlog
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs
from webhook_helpers import lose_stripe_answers

from payment_lib import Actor, InvalidRequest, Payments, ProviderUnavailable
from payment_lib.testing import StripeEmulator

pytestmark = pytest.mark.emulator_only

ADMIN = Actor.admin("ada")


def pay(payments, method="pm_card_visa", **extra):
    return payments.pay(
        user_id=extra.pop("user_id", str(uuid.uuid4())),
        amount=extra.pop("amount", "20.00"),
        currency="usd",
        payment_method=method,
        idempotency_key=str(uuid.uuid4()),
        **extra,
    )


def execute(payments, sql, **params):
    with payments.database.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            params = {k: v.hex if isinstance(v, uuid.UUID) else v for k, v in params.items()}
        connection.execute(sa.text(sql), params)


def stripe_client(emulator):
    import stripe

    return stripe.StripeClient(emulator.api_key, base_addresses={"api": emulator.url})


def kinds(report):
    return sorted((d.kind, d.payment_id) for d in report.drifts)


def test_nothing_drifted_when_both_ledgers_agree(payments):
    pay(payments)
    paid = pay(payments)
    payments.refund(paid.id, actor=ADMIN, amount="5.00")
    pay(payments, method="pm_card_visa_chargeDeclined")

    report = payments.reconcile()

    assert report.drifts == [] and not report.drifted
    assert report.checked["payment_intents"] == 3 and report.checked["refunds"] == 1


def test_reconcile_finds_exactly_the_planted_drifts_and_fix_settles_them(payments, stripe_emulator):
    edited = pay(payments)
    execute(
        payments,
        "UPDATE payments SET status = 'failed', failure_code = 'outcome_unknown' WHERE id = :id",
        id=edited.id,
    )
    lose_stripe_answers(stripe_emulator)  # charged at Stripe; we never heard (nor any event)
    with (
        Payments.from_settings(payments.settings, registry=CollectorRegistry()) as app,
        pytest.raises(ProviderUnavailable),
    ):
        pay(app)
    stripe_emulator.faults.clear()
    [never_heard] = [p for p in _all_payments(payments) if p.status == "unknown"]
    refunded_at_stripe = pay(payments)
    stripe_client(stripe_emulator).v1.refunds.create(
        params={"payment_intent": refunded_at_stripe.stripe_transaction_id, "amount": 700}
    )
    untouched = pay(payments)
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)  # past the in-flight grace
    payments.clock = lambda: moment

    found = payments.reconcile()

    assert kinds(found) == sorted(
        [
            ("status_differs", edited.id),
            ("status_differs", never_heard.id),
            ("amount_refunded_differs", refunded_at_stripe.id),
            ("refund_unknown_here", refunded_at_stripe.id),
        ]
    )
    assert not any(d.fixed for d in found.drifts)
    assert payments.get_payment(edited.id).status == "failed"  # a plain run changes nothing

    fixed = payments.reconcile(fix=True)

    assert kinds(fixed) == kinds(found) and all(d.fixed for d in fixed.drifts)
    assert payments.get_payment(edited.id).status == "succeeded"
    assert payments.get_payment(never_heard.id).status == "succeeded"
    refunded = payments.get_payment(refunded_at_stripe.id)
    assert (refunded.status, refunded.amount_refunded.amount) == ("partially_refunded", "7.00")
    assert [r.requested_by for r in payments.list_refunds(refunded_at_stripe.id)] == ["stripe"]
    assert payments.get_payment(untouched.id).status == "succeeded"
    assert payments.reconcile().drifts == []


def test_what_cannot_be_fixed_is_reported_every_time(payments, stripe_emulator):
    stranger = stripe_client(stripe_emulator).v1.payment_intents.create(
        params={
            "amount": 1500,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "metadata": {"payment_id": str(uuid.uuid4())},
        }
    )
    with StripeEmulator() as other_account:  # e.g. a payment made with another account's key
        settings = payments.settings.model_copy(update={"stripe_api_base": other_account.url})
        with Payments.from_settings(settings, registry=CollectorRegistry()) as elsewhere:
            ghost = pay(elsewhere)

    for fix in (True, False):
        report = payments.reconcile(fix=fix)
        assert sorted((d.kind, d.stripe_id) for d in report.drifts) == [
            ("missing_here", stranger.id),
            ("unknown_at_stripe", ghost.stripe_transaction_id),
        ]
        assert not any(d.fixed for d in report.drifts)


def test_reconcile_only_reads_stripe(payments, stripe_emulator):
    paid = pay(payments)
    execute(payments, "UPDATE payments SET status = 'failed' WHERE id = :id", id=paid.id)
    stripe_client(stripe_emulator).v1.refunds.create(
        params={"payment_intent": paid.stripe_transaction_id, "amount": 500}
    )

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        report = payments.reconcile(fix=True)

    assert report.drifted and all(d.fixed for d in report.drifts)
    operations = {e["operation"] for e in logs if e["event"] == "stripe call"}
    assert operations and all(op.endswith((".list", ".retrieve", ".search")) for op in operations)


def test_the_window_limits_what_is_compared(payments):
    # Taken before paying: the default window, [until - 1 day, until), then holds the payment
    # (taken after, it started a moment after the payment: a flaky test).
    tomorrow = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    paid = pay(payments)
    execute(payments, "UPDATE payments SET status = 'failed' WHERE id = :id", id=paid.id)

    assert payments.reconcile(since=tomorrow, until=tomorrow + dt.timedelta(days=1)).drifts == []
    assert payments.reconcile(until=tomorrow).drifted
    with pytest.raises(InvalidRequest):
        payments.reconcile(since=tomorrow, until=tomorrow - dt.timedelta(days=2))
    with pytest.raises(InvalidRequest):
        payments.reconcile(since=dt.datetime(2026, 1, 1))  # naive


def test_reconcile_walks_every_page_of_a_large_window(payments, stripe_emulator):
    for _ in range(230):
        pay(payments, user_id=str(uuid.uuid4()))
    last = pay(payments)
    execute(payments, "UPDATE payments SET status = 'failed' WHERE id = :id", id=last.id)

    report = payments.reconcile()

    assert report.checked["payment_intents"] == 231
    assert [(d.kind, d.payment_id) for d in report.drifts] == [("status_differs", last.id)]


def _all_payments(payments):
    with payments.database.engine.connect() as connection:
        ids = [row[0] for row in connection.execute(sa.text("SELECT id FROM payments"))]
    return [payments.get_payment(str(uuid.UUID(str(i)))) for i in ids]


def test_a_dispute_only_stripe_knows_is_found_and_recorded_by_fix(payments, stripe_emulator):
    paid = pay(payments)
    dispute = stripe_emulator.open_dispute(paid.stripe_transaction_id)  # its events never came

    found = payments.reconcile()
    fixed = payments.reconcile(fix=True)

    assert [(d.kind, d.stripe_id, d.payment_id) for d in found.drifts] == [
        ("dispute_unknown_here", dispute["id"], paid.id)
    ]
    assert [d.fixed for d in fixed.drifts] == [True]
    [recorded] = payments.list_disputes()
    assert (recorded.stripe_dispute_id, recorded.status) == (dispute["id"], "needs_response")
    assert payments.get_payment(paid.id).dispute_status == "needs_response"
    assert payments.reconcile().drifts == []
