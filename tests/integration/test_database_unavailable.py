"""A database that cannot be reached is ``DatabaseUnavailable`` from every public function
(issue 15, item 3), never a raw SQLAlchemy or psycopg error: a PostgreSQL port where nothing
listens, and a SQLite file that cannot be opened."""

from __future__ import annotations

import datetime as dt
import inspect
import uuid

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from webhook_helpers import event_payload, free_port, sign

from payment_lib import Actor, DatabaseUnavailable, Payments, Settings
from payment_lib.db import Database

SECRET = "whsec_test_current_0123456789abcdef"
UID = str(uuid.uuid4())
NOW = dt.datetime(2027, 1, 31, tzinfo=dt.UTC)
PAYLOAD = event_payload("charge.updated", {"id": "ch_1", "object": "charge"}, "evt_1")

CALLS = {
    "pay": lambda p: p.pay(user_id=UID, amount="20.00", currency="usd",
                           payment_method="pm_card_visa", idempotency_key="k"),
    "refund": lambda p: p.refund(UID, actor=Actor.admin("ada")),
    "add_plan": lambda p: p.add_plan("pro", name="Pro", amount="9.99", currency="usd",
                                     interval="month"),
    "list_plans": lambda p: p.list_plans(),
    "seed_demo_plans": lambda p: p.seed_demo_plans(),
    "get_payment": lambda p: p.get_payment(UID),
    "list_payments": lambda p: p.list_payments(UID),
    "refresh_payment": lambda p: p.refresh_payment(UID),
    "get_refund": lambda p: p.get_refund(UID),
    "list_refunds": lambda p: p.list_refunds(UID),
    "get_subscription": lambda p: p.get_subscription(UID),
    "list_subscriptions": lambda p: p.list_subscriptions(UID),
    "cancel_subscription": lambda p: p.cancel_subscription(UID),
    "change_plan": lambda p: p.change_plan(UID, "pro-monthly"),
    "pause_subscription": lambda p: p.pause_subscription(UID),
    "resume_subscription": lambda p: p.resume_subscription(UID),
    "list_cards": lambda p: p.list_cards(UID),
    "set_default_card": lambda p: p.set_default_card(UID, "pm_card_visa"),
    "remove_card": lambda p: p.remove_card("pm_card_visa"),
    "remind_expiring_cards": lambda p: p.remind_expiring_cards(NOW),
    "change_payment_method": lambda p: p.change_payment_method(UID, "pm_card_visa"),
    "start_trial": lambda p: p.start_trial(user_id=UID, plan_id="pro"),
    "get_dispute": lambda p: p.get_dispute("dp_1"),
    "list_disputes": lambda p: p.list_disputes(),
    "receive_webhook": lambda p: p.receive_webhook(PAYLOAD, sign(PAYLOAD, SECRET)),
    "receive_webhooks": lambda p: p.receive_webhooks([PAYLOAD], trusted=True),
    "process_webhooks": lambda p: p.process_webhooks(),
    "replay_webhook": lambda p: p.replay_webhook("evt_1"),
    "list_webhook_events": lambda p: p.list_webhook_events(),
    "send_notifications": lambda p: p.send_notifications(),
    "list_notifications": lambda p: p.list_notifications(),
    "run_billing": lambda p: p.run_billing(NOW),
    "recover_stale_payments": lambda p: p.recover_stale_payments(),
    "recover_pending_refunds": lambda p: p.recover_pending_refunds(),
    "refund_duplicate_purchases": lambda p: p.refund_duplicate_purchases(),
    "retry_subscription": lambda p: p.retry_subscription(str(uuid.uuid4())),
    "reconcile": lambda p: p.reconcile(fix=True),
    "upgrade_database": lambda p: p.upgrade_database(),
    "downgrade_database": lambda p: p.downgrade_database(),
    "database_revision": lambda p: p.database_revision(),
    "find_payments": lambda p: p.find_payments(status="failed"),
    "find_refunds": lambda p: p.find_refunds(),
    "find_subscriptions": lambda p: p.find_subscriptions(plan_id="pro"),
    "find_webhook_events": lambda p: p.find_webhook_events(event_type="charge.refunded"),
    "resend_notification": lambda p: p.resend_notification(UID),
    "update_plan": lambda p: p.update_plan("pro", name="Pro+"),
    "archive_plan": lambda p: p.archive_plan("pro"),
    "operations_stats": lambda p: p.operations_stats(),
    "record_worker_heartbeat": lambda p: p.record_worker_heartbeat(),
}
# No database: closing, the schema this version ships, building the facade; the worker's
# methods report each step's failure rather than raise (tested below).
NO_DATABASE = {
    "close", "latest_revision", "known_revisions", "from_settings", "run_worker",
    "run_worker_once",
}


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable(request, tmp_path, stripe_target):
    url = {
        "postgresql": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/payments",
        "sqlite": f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'payments.db'}",
    }[request.param]
    settings = Settings(
        database_url=url,
        stripe_api_key=stripe_target.api_key,
        stripe_api_base=stripe_target.api_base,
        stripe_retry_backoff_seconds=0.01,
        webhook_secrets=(SECRET,),
    )
    with Payments.from_settings(settings, registry=CollectorRegistry()) as payments:
        yield payments


# Reports an unreachable database as a failed check instead of raising (tested below).
REPORTS = {"check_health"}


def test_every_public_method_that_uses_the_database_is_driven():
    public = {name for name, _ in inspect.getmembers(Payments) if not name.startswith("_")}
    methods = {name for name in public if callable(getattr(Payments, name))}
    assert methods - NO_DATABASE - REPORTS == set(CALLS)


def test_the_health_check_reports_an_unreachable_database_as_a_failed_check(unreachable):
    report = unreachable.check_health()
    checks = {check.name: check for check in report.checks}
    assert report.status == "failed"
    assert checks["database"].status == "failed"
    # SQLite's missing directory has its own code (issue 14, item 1).
    assert any(code in checks["database"].detail
               for code in ("database_unavailable", "database_file_missing"))


@pytest.mark.parametrize("method", sorted(CALLS))
def test_an_unreachable_database_is_database_unavailable(unreachable, method):
    with pytest.raises(DatabaseUnavailable) as caught:
        CALLS[method](unreachable)
    if unreachable.settings.database_url.startswith("sqlite"):
        # A SQLite file whose directory is missing has its own code (issue 14, item 1) and
        # waits for a person: not retryable, but still a DatabaseUnavailable.
        assert caught.value.code == "database_file_missing"
        assert caught.value.retryable is False
        return
    assert caught.value.code == "database_unavailable"
    assert caught.value.retryable is True


def test_a_worker_pass_reports_each_step_as_database_unavailable(unreachable):
    report = unreachable.run_worker_once()
    assert report.errors
    expected = ("DatabaseUnavailable", "DatabaseFileMissing")
    assert all(any(name in error for name in expected) for error in report.errors), report.errors


def test_a_pool_that_waited_in_vain_is_database_unavailable_too(database_url):
    database = Database(database_url)
    try:
        with pytest.raises(DatabaseUnavailable) as caught, database.unit_of_work():
            raise sa.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached")
    finally:
        database.dispose()
    assert isinstance(caught.value.__cause__, sa.exc.TimeoutError)
