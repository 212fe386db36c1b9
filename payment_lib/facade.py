"""The facade: one object, built from settings, with a method for every use case."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from payment_lib import worker as _worker
from payment_lib.config import Settings
from payment_lib.db import Database
from payment_lib.domain.actors import Actor
from payment_lib.domain.errors import InvalidRequest
from payment_lib.metrics import Metrics
from payment_lib.observability import utcnow
from payment_lib.services import billing as _billing
from payment_lib.services import disputes as _disputes
from payment_lib.services import notifications as _notifications
from payment_lib.services import payment_outcomes as _outcomes
from payment_lib.services import payment_results as _results
from payment_lib.services import payments as _payments
from payment_lib.services import plans as _plans
from payment_lib.services import reconcile as _reconcile
from payment_lib.services import recovery as _recovery
from payment_lib.services import refund_results as _refund_results
from payment_lib.services import refunds as _refunds
from payment_lib.services import settle as _settle
from payment_lib.services import subscriptions as _subscriptions
from payment_lib.services import webhook_events as _webhook_events
from payment_lib.services import webhooks as _webhooks
from payment_lib.services.billing import BillingReport
from payment_lib.services.disputes import DisputeInfo, DisputeSettings
from payment_lib.services.notifications import NotificationInfo, NotificationRun
from payment_lib.services.payment_requests import validate_payment_request
from payment_lib.services.payment_results import PaymentResult
from payment_lib.services.plans import PlanInfo
from payment_lib.services.ports import Clock
from payment_lib.services.reconcile import ReconcileReport
from payment_lib.services.refund_results import RefundResult
from payment_lib.services.subscriptions import SubscriptionInfo
from payment_lib.services.webhook_events import WebhookEventInfo
from payment_lib.services.webhooks import ReceivedEvent, WebhookRun
from payment_lib.worker import WorkerReport

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from payment_lib.stripe_gateway import StripeGateway


class Payments:
    """payment_lib's public entry point.

    Example:
        >>> payments = Payments.from_settings(Settings(database_url="sqlite:///payments.db"))
        >>> payments.upgrade_database()
        >>> payments.list_plans()
    """

    def __init__(
        self,
        settings: Settings,
        *,
        database: Database,
        metrics: Metrics,
        gateway: StripeGateway | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.database = database
        self.metrics = metrics
        self.clock = clock
        self._gateway = gateway

    @property
    def gateway(self) -> StripeGateway:
        """The Stripe gateway, built on first use (importing the SDK only then)."""
        if self._gateway is None:
            from payment_lib.stripe_gateway import StripeGateway

            self._gateway = StripeGateway.from_settings(self.settings, metrics=self.metrics)
        return self._gateway

    @classmethod
    def from_settings(
        cls, settings: Settings, *, registry: CollectorRegistry | None = None
    ) -> Payments:
        """Wire the real database and metrics from ``settings``; nothing connects until used."""
        database = Database(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        return cls(settings, database=database, metrics=Metrics(registry))

    def close(self) -> None:
        """Release database connections."""
        self.database.dispose()

    def __enter__(self) -> Payments:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Schema

    def upgrade_database(self, revision: str = "head") -> str | None:
        """Apply migrations up to ``revision``; returns the revision reached."""
        from payment_lib.db import migrations  # alembic is slow to import

        migrations.upgrade(self.settings.database_url, revision)
        return self.database_revision()

    def downgrade_database(self, revision: str = "-1") -> str | None:
        """Undo migrations down to ``revision`` ("base" empties the schema)."""
        from payment_lib.db import migrations  # alembic is slow to import

        migrations.downgrade(self.settings.database_url, revision)
        return self.database_revision()

    def database_revision(self) -> str | None:
        """The database's current revision (None when empty)."""
        from payment_lib.db import migrations  # alembic is slow to import

        return migrations.current_revision(self.settings.database_url)

    @staticmethod
    def latest_revision() -> str | None:
        """The newest revision this payment_lib ships."""
        from payment_lib.db import migrations  # alembic is slow to import

        return migrations.head_revision()

    # Plans

    def add_plan(
        self,
        plan_id: str,
        *,
        name: str,
        amount: str,
        currency: str,
        interval: str,
        interval_count: int = 1,
    ) -> PlanInfo:
        """Add a plan, e.g. ``add_plan("basic-monthly", name="Basic", amount="9.99",
        currency="usd", interval="month")``.

        Raises:
            InvalidRequest: bad id, name, amount, currency or interval, or the id exists.
        """
        plan = _plans.validate_plan(plan_id, name, amount, currency, interval, interval_count)
        return _plans.add_plan(plan, uow=self.database.unit_of_work())

    def list_plans(self) -> list[PlanInfo]:
        """All plans, by id."""
        return _plans.list_plans(uow=self.database.unit_of_work())

    def seed_demo_plans(self) -> list[PlanInfo]:
        """Add the demo plans (basic-monthly, pro-yearly, ...) that are missing."""
        return _plans.seed_demo_plans(uow=self.database.unit_of_work())

    # Payments

    def pay(
        self,
        *,
        user_id: object,
        amount: object,
        currency: object,
        payment_method: object,
        idempotency_key: object,
        plan_id: object = None,
        customer_email: object = None,
        return_url: object = None,
        description: object = None,
        metadata: object = None,
        off_session: bool = False,
    ) -> PaymentResult:
        """Charge a card once per idempotency key.

        Example:
            ``payments.pay(user_id=user, amount="20.00", currency="usd",
            payment_method="pm_card_visa", idempotency_key="order-1042")``

        Returns:
            The payment: ``succeeded``; ``requires_action`` with ``redirect_url`` for 3-D
            Secure; or ``failed`` with ``error`` (code, message, retry_helps). A repeated key
            returns the stored result with ``replayed=True``.

        Raises:
            InvalidRequest, IdempotencyConflict, RateLimited (``retry_after``),
            ProviderUnavailable (safe to retry with the same key).
        """
        request = validate_payment_request(
            user_id=user_id,
            amount=amount,
            currency=currency,
            payment_method=payment_method,
            idempotency_key=idempotency_key,
            plan_id=plan_id,
            customer_email=customer_email,
            return_url=return_url,
            description=description,
            metadata=metadata,
            off_session=off_session,
        )
        return _payments.process_payment(
            request,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            clock=self.clock,
            metrics=self.metrics,
            rate_limit=self.settings.rate_limit_per_hour,
            retry_days=self.settings.renewal_retry_days,
            default_return_url=self.settings.return_url,
        )

    def get_payment(self, payment_id: object) -> PaymentResult:
        """One payment by id (NotFound if unknown)."""
        return _results.get_payment(payment_id, new_uow=self.database.unit_of_work)

    def list_payments(self, user_id: object) -> list[PaymentResult]:
        """A user's payments, newest first."""
        return _results.list_payments(user_id, new_uow=self.database.unit_of_work)

    def refresh_payment(self, payment_id: object) -> PaymentResult:
        """Ask Stripe where a payment stands (e.g. after 3-D Secure) and record it."""
        return _settle.refresh_payment(
            payment_id,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            policy=self._outcome_policy(),
        )

    def recover_stale_payments(self, older_than_seconds: float = 120) -> list[PaymentResult]:
        """Settle payments whose outcome is not known (a crash left them pending, or Stripe's
        answer was lost) by asking Stripe; never charges twice (the worker calls this)."""
        return _recovery.recover_stale_payments(
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            clock=self.clock,
            retry_days=self.settings.renewal_retry_days,
            metrics=self.metrics,
            older_than=dt.timedelta(seconds=older_than_seconds),
        )

    def _outcome_policy(self) -> _outcomes.OutcomePolicy:
        return _outcomes.OutcomePolicy(
            now=self.clock(), retry_days=self.settings.renewal_retry_days, metrics=self.metrics
        )

    # Subscriptions

    def list_subscriptions(self, user_id: object) -> list[SubscriptionInfo]:
        """A user's subscriptions, oldest first."""
        return _subscriptions.list_subscriptions(user_id, new_uow=self.database.unit_of_work)

    def get_subscription(self, subscription_id: object) -> SubscriptionInfo:
        """One subscription (NotFound if unknown)."""
        return _subscriptions.get_subscription(subscription_id, new_uow=self.database.unit_of_work)

    def cancel_subscription(
        self, subscription_id: object, *, at_period_end: bool = False
    ) -> SubscriptionInfo:
        """Cancel now (access ends now), or at the end of the paid period (not renewed).

        Raises:
            IllegalTransition: the subscription has already ended; nothing changes.
        """
        return _subscriptions.cancel_subscription(
            subscription_id,
            at_period_end=at_period_end,
            new_uow=self.database.unit_of_work,
            now=self.clock(),
        )

    def change_payment_method(
        self, subscription_id: object, payment_method: object
    ) -> SubscriptionInfo:
        """Charge the subscription's renewals to another card (pm_...) from now on."""
        return _subscriptions.change_payment_method(
            subscription_id,
            payment_method,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            now=self.clock(),
        )

    def run_billing(
        self,
        now: dt.datetime | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> BillingReport:
        """Renew, retry or end every subscription due at ``now`` (default: the clock).

        Safe to run on several workers at once, and to repeat: one charge per attempt.
        """
        when = now or self.clock()
        if when.tzinfo is None:
            raise InvalidRequest("now must be an aware datetime (UTC).", param="now")
        return _billing.run_billing(
            when,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            metrics=self.metrics,
            retry_days=self.settings.renewal_retry_days,
            progress=progress,
        )

    # The ledger of record

    def reconcile(
        self,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        *,
        fix: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> ReconcileReport:
        """Compare our record with Stripe's for what was created in [since, until) (default:
        the last day) and report every drift by kind; with ``fix``, apply what Stripe says
        through the usual outcome paths. Only reads from Stripe. ``progress(checked)`` is
        called after each page.

        Raises:
            InvalidRequest: a naive time, or ``since`` not before ``until``.
        """
        end = until or self.clock()
        start = since or end - dt.timedelta(days=1)
        for name, moment in (("since", start), ("until", end)):
            if moment.tzinfo is None:
                raise InvalidRequest(f"{name} must be an aware datetime (UTC).", param=name)
        if start >= end:
            raise InvalidRequest("since must be before until.", param="since")
        return _reconcile.reconcile(
            start,
            end,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            policy=self._outcome_policy,
            disputes=self._dispute_settings(),
            fix=fix,
            progress=progress,
        )

    # Refunds

    def refund(
        self,
        payment_id: object,
        *,
        actor: Actor,
        amount: object = None,
        reason: object = None,
        note: object = None,
        idempotency_key: object = None,
    ) -> RefundResult:
        """Refund a payment, in full (``amount=None``: everything that remains) or in part.

        Example:
            ``payments.refund(payment.id, actor=Actor.admin("ada"), amount="5.00",
            reason="requested_by_customer", note="ticket 1042")``

        Args:
            actor: who asks; only an actor with the ``admin`` role may refund.
            amount: a decimal string in the payment's currency; partial refunds add up.
            reason: ``duplicate``, ``fraudulent`` or ``requested_by_customer``.
            note: free text kept with the refund (at most 500 characters).
            idempotency_key: names this refund request. Without one, the key is derived
                from the payment and the amount, so the same request made twice refunds
                once; give each deliberate repeat of an amount its own key.

        Returns:
            The refund, usually ``succeeded``, with the payment's status, what is refunded
            and what remains, and the linked subscription's status (a full refund cancels it
            at once). A repeated request returns the stored refund with ``replayed=True``.

        Raises:
            Forbidden (nothing recorded), NotFound, InvalidRequest, AlreadyRefunded,
            IdempotencyConflict, ProviderUnavailable (the refund stays pending; the same
            request later asks Stripe what became of it and never refunds twice).
        """
        request = _refunds.validate_refund_request(
            payment_id=payment_id,
            actor=actor,
            amount=amount,
            reason=reason,
            note=note,
            idempotency_key=idempotency_key,
        )
        return _refunds.refund_payment(
            request,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            clock=self.clock,
            metrics=self.metrics,
        )

    def get_refund(self, refund_id: object) -> RefundResult:
        """One refund by id (NotFound if unknown)."""
        return _refund_results.get_refund(refund_id, new_uow=self.database.unit_of_work)

    def list_refunds(self, payment_id: object) -> list[RefundResult]:
        """A payment's refunds, oldest first."""
        return _refund_results.list_refunds(payment_id, new_uow=self.database.unit_of_work)

    def recover_pending_refunds(self, older_than_seconds: float = 120) -> list[RefundResult]:
        """Resolve refunds whose Stripe outcome was lost, by asking Stripe (the worker calls
        this); never refunds twice."""
        return _recovery.recover_pending_refunds(
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            clock=self.clock,
            metrics=self.metrics,
            older_than=dt.timedelta(seconds=older_than_seconds),
        )

    # Webhooks, notifications and the worker

    def receive_webhook(self, payload: bytes | str, signature: str | None) -> ReceivedEvent:
        """Verify and store one Stripe webhook delivery; answer Stripe 200 right after.

        Example:
            ``payments.receive_webhook(request.body, request.headers.get("Stripe-Signature"))``

        The event is processed later by the worker. A duplicate delivery is acknowledged
        (``duplicate=True``) and changes nothing. Needs ``webhook_secrets``, not an API key.

        Raises:
            InvalidSignature: missing, wrong or older than the tolerance (a replay): answer 401.
            InvalidRequest: too large, or not a Stripe event: answer 400.
        """
        from payment_lib.stripe_gateway import verify_webhook  # imports the SDK

        return _webhooks.receive_event(
            payload.encode() if isinstance(payload, str) else payload,
            signature,
            new_uow=self.database.unit_of_work,
            verify=verify_webhook,
            secrets=[s.get_secret_value() for s in self.settings.webhook_secrets],
            tolerance=self.settings.webhook_tolerance_seconds,
            clock=self.clock,
        )

    def process_webhooks(
        self, limit: int = 100, *, should_stop: Callable[[], bool] | None = None
    ) -> WebhookRun:
        """Apply up to ``limit`` due webhook events, each with the state it changes."""
        return _webhooks.process_events(
            new_uow=self.database.unit_of_work,
            clock=self.clock,
            metrics=self.metrics,
            retry_days=self.settings.renewal_retry_days,
            limit=limit,
            should_stop=should_stop,
            disputes=self._dispute_settings(),
        )

    def replay_webhook(self, event_id: str, *, from_stripe: bool = False) -> WebhookEventInfo:
        """Run a stored event through its handler again (a parked one, say); with
        ``from_stripe``, fetch it from Stripe's events API first when it is not stored.

        Raises:
            NotFound: the event is not stored (nor at Stripe, with ``from_stripe``).
        """
        return _webhooks.replay_event(
            event_id,
            new_uow=self.database.unit_of_work,
            clock=self.clock,
            metrics=self.metrics,
            retry_days=self.settings.renewal_retry_days,
            # The gateway (and its API key) only when an event must be fetched.
            fetch=(lambda missing: self.gateway.retrieve_event(missing)) if from_stripe else None,
            disputes=self._dispute_settings(),
        )

    def list_webhook_events(
        self, *, unprocessed: bool = False, limit: int = 100, status: str | None = None
    ) -> list[WebhookEventInfo]:
        """Stored webhook events, oldest first; only those not processed when asked, only
        those with ``status`` (pending, processed, ignored or parked) when given."""
        return _webhook_events.list_events(
            new_uow=self.database.unit_of_work, unprocessed=unprocessed, limit=limit, status=status
        )

    def send_notifications(
        self, limit: int = 50, *, should_stop: Callable[[], bool] | None = None
    ) -> NotificationRun:
        """Send up to ``limit`` due emails from the outbox by SMTP (settings ``smtp_*``)."""
        return _notifications.send_notifications(
            new_uow=self.database.unit_of_work,
            settings=self.settings,
            clock=self.clock,
            metrics=self.metrics,
            limit=limit,
            should_stop=should_stop,
        )

    def list_notifications(
        self, recipient: str | None = None, *, limit: int = 100
    ) -> list[NotificationInfo]:
        """The email outbox, oldest first (only ``recipient``'s when given), with each email's
        status: pending, sending, sent, or failed after repeated failures."""
        return _notifications.list_notifications(
            new_uow=self.database.unit_of_work, recipient=recipient, limit=limit
        )

    def run_worker_once(
        self, now: dt.datetime | None = None, *, should_stop: Callable[[], bool] | None = None
    ) -> WorkerReport:
        """One worker pass: webhooks, emails, renewals due at ``now`` (default: the clock),
        recovery of payments and refunds left pending. Safe on many workers at once."""
        return _worker.run_once(self, now=now, should_stop=should_stop)

    def run_worker(self, *, interval: float, stop: threading.Event) -> int:
        """Worker passes ``interval`` seconds apart until ``stop`` is set (a signal handler
        sets it): the current item finishes first. Returns the number of passes."""
        return _worker.run_forever(self, interval=interval, stop=stop)

    # Disputes

    def list_disputes(self, status: str | None = None, limit: int = 100) -> list[DisputeInfo]:
        """Disputes (chargebacks and inquiries) learned from webhooks, newest first; only
        those in ``status`` (e.g. ``needs_response``, ``lost``) when given.

        Raises:
            InvalidRequest: an unknown status.
        """
        return _disputes.list_disputes(
            new_uow=self.database.unit_of_work, status=status, limit=limit
        )

    def get_dispute(self, id_or_stripe_id: object) -> DisputeInfo:
        """One dispute by its id or Stripe's (``dp_...``); NotFound if unknown."""
        return _disputes.get_dispute(id_or_stripe_id, new_uow=self.database.unit_of_work)

    def _dispute_settings(self) -> DisputeSettings:
        return DisputeSettings(
            admin_email=self.settings.admin_email,
            ends_subscription=self.settings.dispute_ends_subscription,
        )
