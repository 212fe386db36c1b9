"""The worker: the webhook inbox, the email outbox, renewals and recovery, pass after pass.

Any number of workers, in any number of processes and machines, may run against one
PostgreSQL database: every piece of work is claimed in the database (``SKIP LOCKED`` claims,
leases, idempotency keys), so they share it without talking to each other. One pass drains
what is due; a failing step is logged and the others still run. ``should_stop`` is asked
between items, so a stop request (SIGTERM, SIGINT) lets the current item finish.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import structlog

from payment_lib.domain.errors import DatabaseUnavailable
from payment_lib.services.notifications import NotificationReport
from payment_lib.services.webhooks import WebhookReport

if TYPE_CHECKING:
    from payment_lib.config import Settings
    from payment_lib.services.billing import BillingReport
    from payment_lib.services.payment_results import PaymentInfo
    from payment_lib.services.reconcile import ReconcileReport
    from payment_lib.services.refund_results import RefundInfo

log = structlog.get_logger(__name__)

ShouldStop = Callable[[], bool]


class WorkerHost(Protocol):
    """What a worker pass drives: the facade's methods it calls (the facade passes itself)."""

    settings: Settings

    def process_webhooks(
        self, limit: int = 100, *, should_stop: ShouldStop | None = None
    ) -> WebhookReport: ...

    def send_notifications(
        self, limit: int = 50, *, should_stop: ShouldStop | None = None
    ) -> NotificationReport: ...

    def run_billing(self, now: dt.datetime | None = None) -> BillingReport: ...

    def remind_expiring_cards(self, now: dt.datetime | None = None) -> int: ...

    def recover_stale_payments(self) -> list[PaymentInfo]: ...

    def recover_pending_refunds(self) -> list[RefundInfo]: ...

    def refund_duplicate_purchases(self) -> list[RefundInfo]: ...

    def reconcile(self, *, fix: bool) -> ReconcileReport: ...

    def record_worker_heartbeat(self) -> None: ...


BATCH = 100


@dataclass
class WorkerReport:
    """What one pass of the worker did."""

    webhooks: WebhookReport = field(default_factory=WebhookReport)
    notifications: NotificationReport = field(default_factory=NotificationReport)
    renewals: int = 0
    ended_subscriptions: int = 0
    resumed_subscriptions: int = 0
    card_reminders: int = 0
    recovered_payments: int = 0
    recovered_refunds: int = 0
    duplicate_purchases_refunded: int = 0
    drifts_found: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "webhooks": self.webhooks.to_dict(),
            "notifications": self.notifications.to_dict(),
            "renewals": self.renewals,
            "ended_subscriptions": self.ended_subscriptions,
            "resumed_subscriptions": self.resumed_subscriptions,
            "card_reminders": self.card_reminders,
            "recovered_payments": self.recovered_payments,
            "recovered_refunds": self.recovered_refunds,
            "duplicate_purchases_refunded": self.duplicate_purchases_refunded,
            "drifts_found": self.drifts_found,
            "errors": self.errors,
        }


def run_once(
    payments: WorkerHost,
    *,
    now: dt.datetime | None = None,
    should_stop: ShouldStop | None = None,
    reconcile: bool = False,
) -> WorkerReport:
    """One pass: every due webhook event, card-expiring reminders and every due email,
    renewals due at ``now`` (paused subscriptions resumed first) and
    recovery of payments and refunds a crash left pending; with ``reconcile``, a reconcile of
    the last day that fixes what it finds.

    Renewals, recovery and reconcile talk to Stripe; without an API key they are skipped.
    """
    stop = should_stop or (lambda: False)
    report = WorkerReport()

    def step(name: str, work: Callable[[], None]) -> None:
        if stop():
            return
        try:
            work()
        except DatabaseUnavailable as error:  # the database layer warns once per outage
            report.errors.append(f"{name}: {type(error).__name__}: {error}")
        except Exception as error:
            log.exception("worker step failed", step=name)
            report.errors.append(f"{name}: {type(error).__name__}: {error}")

    def drain(
        work: Callable[..., WebhookReport | NotificationReport],
        total: WebhookReport | NotificationReport,
    ) -> Callable[[], None]:
        """Batch after batch until one comes back short (nothing more is due)."""

        def batches() -> None:
            while not stop():
                batch = work(limit=BATCH, should_stop=stop)
                for name, count in batch.to_dict().items():
                    setattr(total, name, getattr(total, name) + count)
                if sum(batch.to_dict().values()) < BATCH:
                    return

        return batches

    def billing() -> None:
        billed = payments.run_billing(now)
        report.renewals += len(billed.charged)
        report.ended_subscriptions += len(billed.ended)
        report.resumed_subscriptions += len(billed.resumed)

    def reminders() -> None:
        report.card_reminders += payments.remind_expiring_cards(now)

    def recovery() -> None:
        report.recovered_payments += len(payments.recover_stale_payments())
        report.recovered_refunds += len(payments.recover_pending_refunds())
        report.duplicate_purchases_refunded += len(payments.refund_duplicate_purchases())

    def reconciling() -> None:
        report.drifts_found += sum(payments.reconcile(fix=True).counts.values())

    webhooks = drain(payments.process_webhooks, report.webhooks)
    notifications = drain(payments.send_notifications, report.notifications)
    step("webhooks", webhooks)
    step("card reminders", reminders)
    step("notifications", notifications)
    if payments.settings.stripe_api_key is not None:
        step("billing", billing)
        step("recovery", recovery)
        if reconcile:
            step("reconcile", reconciling)
        step("notifications", notifications)  # what billing, recovery and reconcile enqueued
    step("heartbeat", payments.record_worker_heartbeat)  # payment-cli doctor: a worker runs
    return report


def run_forever(payments: WorkerHost, *, interval: float, stop: threading.Event) -> int:
    """Pass after pass, ``interval`` seconds apart, until ``stop`` is set; returns passes.

    Every ``settings.reconcile_interval_seconds`` (the first time one interval after start; 0
    never) a pass also reconciles the last day with Stripe and fixes what it finds.
    """
    if payments.settings.stripe_api_key is None:
        log.warning("no Stripe API key: renewals, recovery and reconcile are skipped")
    every = payments.settings.reconcile_interval_seconds
    next_reconcile = time.monotonic() + every if every else None
    log.info("worker started", interval=interval, reconcile_every=every or None)
    passes = 0
    while not stop.is_set():
        due = next_reconcile is not None and time.monotonic() >= next_reconcile
        run_once(payments, should_stop=stop.is_set, reconcile=due)
        if due:
            next_reconcile = time.monotonic() + every
        passes += 1
        stop.wait(interval)
    log.info("worker stopped", passes=passes)
    return passes
