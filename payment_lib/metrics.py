"""The library's Prometheus metrics, registered in a registry the host application chooses.

prometheus_client reads /proc when imported, so it is imported only when Metrics is built:
``import payment_lib`` touches no file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class Metrics:
    """The library's Prometheus metrics, registered in the registry given (a private one if none).

    A host app passes ``prometheus_client.REGISTRY`` to expose them on its usual endpoint.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.payments_total = Counter(
            "payments_total", "Payment attempts by final status", ["status"], registry=r
        )
        self.payment_duration_seconds = Histogram(
            "payment_duration_seconds", "Time to process one payment", registry=r
        )
        self.refunds_total = Counter(
            "refunds_total", "Refunds by final status", ["status"], registry=r
        )
        self.webhooks_received_total = Counter(
            "webhooks_received_total",
            "Webhook deliveries received: stored, duplicate or refused (bad signature or body)",
            ["outcome"],
            registry=r,
        )
        # Its series, labelled once: a delivery counts itself without labels()'s lock and checks.
        self.webhooks_received = {
            outcome: self.webhooks_received_total.labels(outcome=outcome)
            for outcome in ("stored", "duplicate", "refused")
        }
        self.webhooks_processed_total = Counter(
            "webhooks_processed_total", "Webhook events processed", ["event_type"], registry=r
        )
        self.webhook_lag_seconds = Histogram(
            "webhook_processing_lag_seconds", "From receipt to processing of an event", registry=r
        )
        self.notifications_sent_total = Counter(
            "notifications_sent_total", "Notifications by outcome", ["outcome"], registry=r
        )
        self.renewals_total = Counter(
            "renewals_total", "Subscription renewal attempts by outcome", ["outcome"], registry=r
        )
        self.plan_changes_total = Counter(
            "plan_changes_total",
            "Plan changes by outcome (changed, scheduled, ...)",
            ["outcome"],
            registry=r,
        )
        self.trials_total = Counter(
            "trials_total", "Trial starts by outcome", ["outcome"], registry=r
        )
        self.ledger_corrections_total = Counter(
            "ledger_corrections_total",
            "Our record corrected to what Stripe says (a success after a failure, drift fixed)",
            ["kind"],
            registry=r,
        )
        self.disputes_total = Counter(
            "disputes_total", "Dispute changes by the status reached", ["status"], registry=r
        )
        self.subscription_pauses_total = Counter(
            "subscription_pauses_total", "Subscriptions paused and resumed", ["action"], registry=r
        )
        self.card_expiry_reminders_total = Counter(
            "card_expiry_reminders_total", "Card-expiring reminders queued", registry=r
        )
        self.circuit_state = Gauge(
            "stripe_circuit_open", "1 while the Stripe circuit breaker is open", registry=r
        )
