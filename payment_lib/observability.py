"""Structured logging with a trace id, card-number scrubbing, and the library's metrics.

Library modules only call ``structlog.get_logger(__name__)``; configuring output is the job of
the CLI or the host application (``configure_logging``).
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from payment_lib.domain.card_data import redact_card_numbers

TRACE_ID = "trace_id"


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact_card_numbers(value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(item) for item in value)
    return value


def scrub_card_numbers(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: replace anything that looks like a card number, at any depth."""
    return {key: _scrub(value) for key, value in event.items()}


def configure_logging(level: str = "info", *, stream: TextIO | None = None) -> None:
    """One JSON object per line on ``stream`` (stderr), with trace id, level and UTC time."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            scrub_card_numbers,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def current_trace_id() -> str | None:
    """The trace id bound in this context, if any."""
    value = structlog.contextvars.get_contextvars().get(TRACE_ID)
    return str(value) if value is not None else None


@contextmanager
def trace(trace_id: str | None = None) -> Iterator[str]:
    """Bind a trace id for the operation inside; an enclosing one is kept, not replaced."""
    existing = current_trace_id()
    if existing is not None:
        yield existing
        return
    new_id = trace_id or uuid.uuid4().hex
    with structlog.contextvars.bound_contextvars(**{TRACE_ID: new_id}):
        yield new_id


class Metrics:
    """The library's Prometheus metrics, registered in the registry given (a private one if none).

    A host app passes ``prometheus_client.REGISTRY`` to expose them on its usual endpoint.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
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
        self.circuit_state = Gauge(
            "stripe_circuit_open", "1 while the Stripe circuit breaker is open", registry=r
        )
