"""The claim and listing queries the worker and the operators run are served by an index.

PostgreSQL only: each query the repositories send is captured, then EXPLAINed with sequential
scans disabled, so a plan still scanning the whole table means no index can serve it.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from payment_lib.db.listings import Filters
from payment_lib.db.tables import Payment, Refund, WebhookEvent
from payment_lib.db.webhook_batch_repository import WebhookBatchRepository

pytestmark = pytest.mark.postgresql_only

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
AFTER = (NOW, uuid.uuid4())

QUERIES = {
    "payments claimed for recovery": lambda uow: uow.payments.claim_unsettled(
        NOW, now=NOW, lease_until=NOW, limit=50
    ),
    "refunds claimed for recovery": lambda uow: uow.refunds.claim_stale_pending(
        NOW, now=NOW, lease_until=NOW, limit=50
    ),
    "emails claimed to send": lambda uow: uow.notifications.claim_due(NOW, limit=50),
    "duplicate plan purchases": lambda uow: uow.payments.duplicate_purchases(limit=50),
    "payments paid for nothing": lambda uow: uow.payments.paid_for_nothing(limit=50),
    "a recipient's emails": lambda uow: uow.notifications.listing("ada@example.com", limit=100),
    "the outbox listed": lambda uow: uow.notifications.listing(None, limit=100),
    "webhook events claimed": lambda uow: uow.webhook_events.claim_due(NOW, limit=100),
    # The worker's drain applies a batch at once (services/webhook_batch.py).
    "webhook events claimed in a batch": lambda uow: WebhookBatchRepository(uow.session).claim_due(
        NOW, limit=100
    ),
    "a batch's payments locked": lambda uow: WebhookBatchRepository(uow.session).lock_payments(
        ["pi_1", "pi_2"], [uuid.uuid4()]
    ),
    "a batch's known cards": lambda uow: WebhookBatchRepository(uow.session).card_ids(["pm_1"]),
    "webhook events listed": lambda uow: uow.webhook_events.listing(unprocessed=False, limit=100),
    "unprocessed webhook events listed": lambda uow: uow.webhook_events.listing(
        unprocessed=True, limit=100
    ),
    "webhook events by status": lambda uow: uow.webhook_events.listing(
        unprocessed=False, status="parked", limit=100
    ),
    "subscriptions due": lambda uow: uow.subscriptions.due(
        NOW, grace=dt.timedelta(days=5), after=uuid.uuid4(), limit=500
    ),
    "trials ending (reminders)": lambda uow: uow.subscriptions.trials_ending(
        NOW + dt.timedelta(days=3), after=NOW
    ),
    "pauses ended": lambda uow: uow.pauses.ended(NOW, limit=100, lock=True),
    "a user's saved cards": lambda uow: uow.saved_cards.for_user(uuid.uuid4()),
    "the live subscriptions renewing with cards": lambda uow: uow.saved_cards.live_using(
        [uuid.uuid4()]
    ),
    "cards expiring, not reminded yet": lambda uow: uow.saved_cards.expiring_in_use(
        24321, 24322, reminded="card_expiring"
    ),
    "a user's payments": lambda uow: uow.payments.for_user(uuid.uuid4()),
    "a payment's refunds": lambda uow: uow.refunds.for_payment(uuid.uuid4()),
    "a subscription's unsettled payments": lambda uow: uow.payments.unsettled_for_subscription(
        uuid.uuid4()
    ),
    # The operators' listings (issue 14, item 6): keyset pages on (created_at, id).
    "payments listed": lambda uow: uow.listings.payments(Filters(), after=AFTER, limit=50),
    "payments listed by status": lambda uow: uow.listings.payments(
        Filters(status="failed", since=NOW), after=AFTER, limit=50
    ),
    "payments listed for a user": lambda uow: uow.listings.payments(
        Filters(user_id=uuid.uuid4(), until=NOW), after=AFTER, limit=50
    ),
    "refunds listed": lambda uow: uow.listings.refunds(Filters(), after=AFTER, limit=50),
    "refunds listed by status": lambda uow: uow.listings.refunds(
        Filters(status="pending"), after=None, limit=50
    ),
    "a payment's refunds listed": lambda uow: uow.listings.refunds(
        Filters(payment_id=uuid.uuid4()), after=AFTER, limit=50
    ),
    "subscriptions listed": lambda uow: uow.listings.subscriptions(
        Filters(), after=AFTER, limit=50
    ),
    "subscriptions listed by status": lambda uow: uow.listings.subscriptions(
        Filters(status="past_due"), after=AFTER, limit=50
    ),
    "emails listed by status": lambda uow: uow.notifications.listing(
        None, limit=100, status="failed"
    ),
    "webhook events by type since": lambda uow: uow.webhook_events.listing(
        unprocessed=False, limit=100, event_type="charge.succeeded", since=NOW, after=AFTER
    ),
    "workers seen": lambda uow: uow.operations.heartbeats(limit=20),
    "the last reconcile": lambda uow: uow.operations.last_reconcile(),
    # payment-cli stats and doctor: counts by status, and each queue's depth and oldest item.
    "payments counted by status": lambda uow: uow.operations.counts_by_status(Payment.status),
    "webhook events counted by status": lambda uow: uow.operations.counts_by_status(
        WebhookEvent.status
    ),
    "the oldest pending refund": lambda uow: uow.operations.oldest(
        Refund.created_at, Refund.status == "pending"
    ),
    "pending refunds counted": lambda uow: uow.operations.count(
        Refund.created_at, Refund.status == "pending"
    ),
}


# Claims and listings (ORDER BY ... LIMIT) read their rows in order from an index holding only
# their candidates (migration 0010), so they stop after LIMIT rows with no sort, however many
# are processed, parked, sent or settled.
ORDERED_BY = {
    "payments claimed for recovery": "ix_payments_unsettled",
    "refunds claimed for recovery": "ix_refunds_pending",
    "emails claimed to send": "ix_notifications_due",
    "duplicate plan purchases": "ix_payments_duplicate_purchases",
    "payments paid for nothing": "ix_payments_paid_for_nothing",
    "the outbox listed": "ix_notifications_created_at_id",
    # Due events: parked ones are not in the first index; an empty table's statistics cannot
    # tell the two apart (benchmarks/scale.py shows the first one chosen with parked events).
    "webhook events claimed": ("ix_webhook_events_due", "ix_webhook_events_unprocessed"),
    "webhook events claimed in a batch": (
        "ix_webhook_events_due",
        "ix_webhook_events_unprocessed",
    ),
    "webhook events listed": "ix_webhook_events_created_at_id",
    "unprocessed webhook events listed": "ix_webhook_events_unprocessed",
    "webhook events by status": "ix_webhook_events_status_created_at_id",
}


def captured_selects(payments, run):
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    sa.event.listen(payments.database.engine, "before_cursor_execute", capture)
    try:
        with payments.database.unit_of_work() as uow:
            run(uow)
    finally:
        sa.event.remove(payments.database.engine, "before_cursor_execute", capture)
    return statements


def plan_of(payments, name, *disabled):
    [(statement, parameters)] = captured_selects(payments, QUERIES[name])
    with payments.database.engine.connect() as connection:
        for plan_type in ("seqscan", *disabled):
            connection.exec_driver_sql(f"SET enable_{plan_type} = off")
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            cursor.execute("EXPLAIN " + statement, parameters)
            return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_the_query_is_served_by_an_index(payments, name):
    plan = plan_of(payments, name)
    assert "Seq Scan" not in plan, plan


@pytest.mark.parametrize("name", sorted(ORDERED_BY))
def test_a_claim_or_listing_reads_its_candidates_in_order_with_no_sort(payments, name):
    # Sorting and bitmap scans off too: a plan still sorting means no index gives the order.
    plan = plan_of(payments, name, "sort", "bitmapscan")
    expected = ORDERED_BY[name]
    indexes = (expected,) if isinstance(expected, str) else expected
    assert any(index in plan for index in indexes), plan
    assert "Sort" not in plan, plan
