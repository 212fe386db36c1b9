"""payment_lib: card payments, subscriptions, Stripe webhooks and refunds.

Host applications and the CLI use only the names listed in ``__all__``. Each is imported on
first use (PEP 562), so importing one of them does not load the database layer, the Stripe SDK
or the migrations as well: a CLI command pays only for what it uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from payment_lib.config import Settings
    from payment_lib.domain.actors import Actor
    from payment_lib.domain.card_data import contains_card_number, redact_card_numbers
    from payment_lib.domain.card_input import refuse_card_numbers
    from payment_lib.domain.environment_errors import (
        DatabaseDriverMissing,
        DatabaseFileCorrupt,
        DatabaseFileMissing,
        DatabaseFileUnwritable,
        ProviderUnreachable,
        SchemaOutOfDate,
        StripeKeyRejected,
        UnknownRevision,
    )
    from payment_lib.domain.errors import (
        AlreadyRefunded,
        ConfigurationError,
        DatabaseUnavailable,
        Forbidden,
        IdempotencyConflict,
        IllegalTransition,
        InvalidRequest,
        InvalidSignature,
        NotFound,
        PaymentError,
        ProviderError,
        ProviderUnavailable,
        RateLimited,
    )
    from payment_lib.domain.money import Money, format_amount, parse_money
    from payment_lib.facade import Payments
    from payment_lib.metrics import Metrics
    from payment_lib.observability import configure_logging
    from payment_lib.services.billing import BillingReport
    from payment_lib.services.disputes import DisputeInfo
    from payment_lib.services.listings import Page
    from payment_lib.services.notifications import NotificationInfo, NotificationReport
    from payment_lib.services.pause import ResumeInfo
    from payment_lib.services.payment_requests import PaymentRequest
    from payment_lib.services.payment_results import FailureInfo, PaymentInfo
    from payment_lib.services.plan_changes import PlanChangeInfo
    from payment_lib.services.plans import PlanInfo
    from payment_lib.services.reconcile import Drift, ReconcileReport
    from payment_lib.services.refund_results import RefundInfo
    from payment_lib.services.refunds import RefundRequest
    from payment_lib.services.request_fields import PayFields, RefundFields
    from payment_lib.services.saved_cards import CardInfo
    from payment_lib.services.subscriptions import SubscriptionInfo
    from payment_lib.services.webhook_backfill import BackfillReport
    from payment_lib.services.webhook_events import WebhookEventInfo
    from payment_lib.services.webhooks import ReceivedEventInfo, WebhookReport
    from payment_lib.worker import WorkerReport

# Each public name and the module that defines it.
_WHERE = {
    "Actor": "payment_lib.domain.actors",
    "AlreadyRefunded": "payment_lib.domain.errors",
    "BackfillReport": "payment_lib.services.webhook_backfill",
    "BillingReport": "payment_lib.services.billing",
    "CardInfo": "payment_lib.services.saved_cards",
    "ConfigurationError": "payment_lib.domain.errors",
    "DatabaseDriverMissing": "payment_lib.domain.environment_errors",
    "DatabaseFileCorrupt": "payment_lib.domain.environment_errors",
    "DatabaseFileMissing": "payment_lib.domain.environment_errors",
    "DatabaseFileUnwritable": "payment_lib.domain.environment_errors",
    "DatabaseUnavailable": "payment_lib.domain.errors",
    "DisputeInfo": "payment_lib.services.disputes",
    "Drift": "payment_lib.services.reconcile",
    "FailureInfo": "payment_lib.services.payment_results",
    "Forbidden": "payment_lib.domain.errors",
    "IdempotencyConflict": "payment_lib.domain.errors",
    "IllegalTransition": "payment_lib.domain.errors",
    "InvalidRequest": "payment_lib.domain.errors",
    "InvalidSignature": "payment_lib.domain.errors",
    "Metrics": "payment_lib.metrics",
    "Money": "payment_lib.domain.money",
    "NotFound": "payment_lib.domain.errors",
    "NotificationInfo": "payment_lib.services.notifications",
    "NotificationReport": "payment_lib.services.notifications",
    "Page": "payment_lib.services.listings",
    "PayFields": "payment_lib.services.request_fields",
    "PaymentError": "payment_lib.domain.errors",
    "PaymentInfo": "payment_lib.services.payment_results",
    "PaymentRequest": "payment_lib.services.payment_requests",
    "Payments": "payment_lib.facade",
    "PlanChangeInfo": "payment_lib.services.plan_changes",
    "PlanInfo": "payment_lib.services.plans",
    "ProviderError": "payment_lib.domain.errors",
    "ProviderUnavailable": "payment_lib.domain.errors",
    "ProviderUnreachable": "payment_lib.domain.environment_errors",
    "RateLimited": "payment_lib.domain.errors",
    "ReceivedEventInfo": "payment_lib.services.webhooks",
    "ReconcileReport": "payment_lib.services.reconcile",
    "RefundFields": "payment_lib.services.request_fields",
    "RefundInfo": "payment_lib.services.refund_results",
    "RefundRequest": "payment_lib.services.refunds",
    "ResumeInfo": "payment_lib.services.pause",
    "SchemaOutOfDate": "payment_lib.domain.environment_errors",
    "Settings": "payment_lib.config",
    "StripeKeyRejected": "payment_lib.domain.environment_errors",
    "SubscriptionInfo": "payment_lib.services.subscriptions",
    "UnknownRevision": "payment_lib.domain.environment_errors",
    "WebhookEventInfo": "payment_lib.services.webhook_events",
    "WebhookReport": "payment_lib.services.webhooks",
    "WorkerReport": "payment_lib.worker",
    "configure_logging": "payment_lib.observability",
    "contains_card_number": "payment_lib.domain.card_data",
    "format_amount": "payment_lib.domain.money",
    "parse_money": "payment_lib.domain.money",
    "redact_card_numbers": "payment_lib.domain.card_data",
    "refuse_card_numbers": "payment_lib.domain.card_input",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'payment_lib' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value  # once: the next use is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "Actor",
    "AlreadyRefunded",
    "BackfillReport",
    "BillingReport",
    "CardInfo",
    "ConfigurationError",
    "DatabaseDriverMissing",
    "DatabaseFileCorrupt",
    "DatabaseFileMissing",
    "DatabaseFileUnwritable",
    "DatabaseUnavailable",
    "DisputeInfo",
    "Drift",
    "FailureInfo",
    "Forbidden",
    "IdempotencyConflict",
    "IllegalTransition",
    "InvalidRequest",
    "InvalidSignature",
    "Metrics",
    "Money",
    "NotFound",
    "NotificationInfo",
    "NotificationReport",
    "Page",
    "PayFields",
    "PaymentError",
    "PaymentInfo",
    "PaymentRequest",
    "Payments",
    "PlanChangeInfo",
    "PlanInfo",
    "ProviderError",
    "ProviderUnavailable",
    "ProviderUnreachable",
    "RateLimited",
    "ReceivedEventInfo",
    "ReconcileReport",
    "RefundFields",
    "RefundInfo",
    "RefundRequest",
    "ResumeInfo",
    "SchemaOutOfDate",
    "Settings",
    "StripeKeyRejected",
    "SubscriptionInfo",
    "UnknownRevision",
    "WebhookEventInfo",
    "WebhookReport",
    "WorkerReport",
    "configure_logging",
    "contains_card_number",
    "format_amount",
    "parse_money",
    "redact_card_numbers",
    "refuse_card_numbers",
]
