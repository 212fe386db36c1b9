"""The claim and listing queries the worker and the operators run are served by an index.

PostgreSQL only: each query the repositories send is captured, then EXPLAINed with sequential
scans disabled, so a plan still scanning the whole table means no index can serve it.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgresql_only

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)

QUERIES = {
    "payments claimed for recovery": lambda uow: uow.payments.claim_unsettled(
        NOW, now=NOW, lease_until=NOW, limit=50
    ),
    "refunds claimed for recovery": lambda uow: uow.refunds.claim_stale_pending(
        NOW, now=NOW, lease_until=NOW, limit=50
    ),
    "emails claimed to send": lambda uow: uow.notifications.claim_due(NOW, limit=50),
    "a recipient's emails": lambda uow: uow.notifications.listing("ada@example.com", limit=100),
    "the outbox listed": lambda uow: uow.notifications.listing(None, limit=100),
    "webhook events claimed": lambda uow: uow.webhook_events.claim_due(NOW, limit=100),
    "webhook events listed": lambda uow: uow.webhook_events.listing(unprocessed=False, limit=100),
    "webhook events by status": lambda uow: uow.webhook_events.listing(
        unprocessed=False, status="parked", limit=100
    ),
    "subscriptions due": lambda uow: uow.subscriptions.due(
        NOW, grace=dt.timedelta(days=5), after=uuid.uuid4(), limit=500
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


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_the_query_is_served_by_an_index(payments, name):
    [(statement, parameters)] = captured_selects(payments, QUERIES[name])
    with payments.database.engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            cursor.execute("EXPLAIN " + statement, parameters)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" not in plan, plan
