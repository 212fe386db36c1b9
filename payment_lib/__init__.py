"""payment_lib: card payments, subscriptions, Stripe webhooks and refunds.

Host applications and the CLI use only the names listed in ``__all__``.
"""

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
