"""Structured logs carry a trace id and never a card number; metrics go to the host's registry."""

import io
import json

import structlog
from prometheus_client import CollectorRegistry, generate_latest

from payment_lib.metrics import Metrics
from payment_lib.observability import (
    configure_logging,
    current_trace_id,
    scrub_card_numbers,
    trace,
)


def test_scrubber_redacts_card_numbers_in_the_message_and_nested_fields():
    event = {
        "event": "paid with 4242 4242 4242 4242",
        "detail": {"card": "4000000000009995", "ok": 5},
        "items": ["4242-4242-4242-4242", 12],
        "amount": 2000,
    }
    scrubbed = scrub_card_numbers(None, "info", event)
    assert scrubbed == {
        "event": "paid with [REDACTED]",
        "detail": {"card": "[REDACTED]", "ok": 5},
        "items": ["[REDACTED]", 12],
        "amount": 2000,
    }


def test_json_log_lines_carry_the_bound_trace_id_and_no_card_number():
    stream = io.StringIO()
    configure_logging(stream=stream)
    log = structlog.get_logger("test")
    with trace() as trace_id:
        log.info("payment attempt", note="card 4242424242424242")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["trace_id"] == trace_id
    assert line["event"] == "payment attempt"
    assert line["note"] == "card [REDACTED]"
    assert line["level"] == "info"
    assert "timestamp" in line


def test_trace_keeps_an_outer_trace_id_and_clears_its_own():
    assert current_trace_id() is None
    with trace("outer-id") as outer, trace() as inner:
        assert inner == outer == "outer-id"
    assert current_trace_id() is None


def test_metrics_register_in_the_registry_they_are_given():
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.payments_total.labels(status="succeeded").inc()
    text = generate_latest(registry).decode()
    assert 'payments_total{status="succeeded"} 1.0' in text
    assert "payment_duration_seconds" in text
    Metrics(CollectorRegistry())  # a second instance elsewhere does not collide


def test_trace_binds_fields_with_its_id_and_restores_the_outer_context():
    get = structlog.contextvars.get_contextvars
    with structlog.contextvars.bound_contextvars(user_id="outer", kept="yes"):
        with trace(user_id="u-1", idempotency_key="k-1") as trace_id:
            assert get() == {
                "user_id": "u-1",
                "kept": "yes",
                "idempotency_key": "k-1",
                "trace_id": trace_id,
            }
        assert get() == {"user_id": "outer", "kept": "yes"}
        with trace("outer-id"), trace(user_id="u-2") as inner:
            assert inner == "outer-id" and get()["user_id"] == "u-2"
        assert get() == {"user_id": "outer", "kept": "yes"}
    assert get() == {}


def test_trace_restores_the_context_when_its_block_raises():
    try:
        with trace(user_id="u-1"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert structlog.contextvars.get_contextvars() == {}
