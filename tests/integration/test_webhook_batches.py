"""The worker applies a claimed batch of webhook events in one transaction, each event in a
savepoint of its own: one failing event never rolls back the others (both databases)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from webhook_helpers import event_payload, settings, sign, smtp  # noqa: F401 (fixtures)

from payment_lib.db.tables import WebhookEvent
from payment_lib.services import webhook_handlers, webhooks

WRITE = "test.write"  # an event type of the tests' own, with a handler that writes


def writing_handler(uow, event, _policy):
    """Queue an email keyed by the event; the poison event then breaks its transaction."""
    uow.notifications.enqueue(
        {
            "recipient": "ada@example.com",
            "kind": "test",
            "payload": {},
            "dedupe_key": f"test:{event['id']}",
        }
    )
    if event["id"].startswith("evt_poison"):
        # A failing statement: PostgreSQL aborts the transaction until a rollback.
        uow.session.execute(
            sa.insert(WebhookEvent).values(
                id=_existing_id(uow),
                stripe_event_id="evt_clash",
                event_type=WRITE,
                payload={},
                processed=False,
                status="pending",
                signature_verified=True,
                attempts=0,
            )
        )
    return True


def _existing_id(uow):
    return uow.session.scalars(sa.select(WebhookEvent.id).limit(1)).one()


def receive(payments, *ids):
    for event_id in ids:
        payload = event_payload(WRITE, {"id": f"obj_{event_id}"}, event_id)
        payments.receive_webhook(payload, sign(payload))


def scalars(payments, sql):
    with payments.database.engine.connect() as connection:
        return [row[0] for row in connection.execute(sa.text(sql))]


def processed_counting_commits(payments):
    """``process_webhooks(limit=100)``'s report, and how many transactions it committed."""
    commits = []

    def count(_connection):
        commits.append(1)

    sa.event.listen(payments.database.engine, "commit", count)
    try:
        report = payments.process_webhooks(limit=100)
    finally:
        sa.event.remove(payments.database.engine, "commit", count)
    return report, len(commits)


@pytest.fixture
def writing(monkeypatch):
    monkeypatch.setitem(webhook_handlers.HANDLERS, WRITE, writing_handler)


def test_one_failing_event_in_a_batch_does_not_roll_back_the_others(payments, writing):
    receive(payments, "evt_first", "evt_poison", "evt_last")

    report = payments.process_webhooks()

    assert (report.processed, report.retried, report.parked) == (2, 1, 0)
    keys = scalars(payments, "SELECT dedupe_key FROM notifications ORDER BY dedupe_key")
    assert keys == ["test:evt_first", "test:evt_last"]  # the poison event's email rolled back
    [poison] = payments.list_webhook_events(unprocessed=True)
    assert (poison.stripe_event_id, poison.attempts) == ("evt_poison", 1)
    assert "IntegrityError" in (poison.last_error or "")
    assert poison.next_attempt_at is not None  # retried later, with backoff


def test_a_batch_of_events_is_claimed_and_applied_in_one_transaction(
    payments, writing, monkeypatch
):
    monkeypatch.setattr(webhooks, "BATCH_SECONDS", 600)  # however slow the machine is today
    receive(payments, *(f"evt_batch_{n}" for n in range(20)))
    report, commits = processed_counting_commits(payments)

    assert report.processed == 20
    assert commits == 1  # not one transaction (and lease) per event
    assert scalars(payments, "SELECT count(*) FROM notifications") == [20]


def test_a_batch_that_runs_out_of_time_commits_and_the_next_one_goes_on(
    payments, writing, monkeypatch
):
    monkeypatch.setattr(webhooks, "BATCH_SECONDS", 0)  # one event per transaction
    receive(payments, *(f"evt_slow_{n}" for n in range(3)))
    report, commits = processed_counting_commits(payments)

    assert report.processed == 3
    assert commits == 3


@pytest.mark.postgresql_only  # SQLite's writers never wait on each other inside a batch
def test_an_event_waiting_on_another_transactions_lock_is_left_due_without_an_attempt(
    payments, monkeypatch
):
    def locking_handler(uow, event, _policy):
        uow.session.execute(sa.text("SELECT pg_advisory_xact_lock(4242)"))
        return True

    monkeypatch.setitem(webhook_handlers.HANDLERS, WRITE, locking_handler)
    receive(payments, "evt_locked")
    with payments.database.engine.connect() as holder:
        holder.execute(sa.text("SELECT pg_advisory_xact_lock(4242)"))  # another worker's batch
        report = payments.process_webhooks()
        [waiting] = payments.list_webhook_events(unprocessed=True)
        holder.rollback()

    assert (report.processed, report.retried, report.parked) == (0, 0, 0)
    assert (waiting.attempts, waiting.last_error) == (0, None)
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at <= dt.datetime.now(dt.UTC)  # due again at once
    assert payments.process_webhooks().processed == 1


def test_a_transaction_holds_a_bounded_number_of_savepoints(payments, writing, monkeypatch):
    # PostgreSQL caches 64 subtransaction ids a transaction; past that every snapshot slows.
    monkeypatch.setattr(webhooks, "EVENTS_PER_TRANSACTION", 2)
    monkeypatch.setattr(webhooks, "BATCH_SECONDS", 600)
    receive(payments, *(f"evt_many_{n}" for n in range(5)))
    report, commits = processed_counting_commits(payments)

    assert report.processed == 5
    assert commits == 3
