"""Receiving one Stripe webhook delivery: verify, parse once, scrub, store once, acknowledge.

The request path of every webhook, so it does the least: the signature is checked with
``hmac`` (``stripe_gateway.signatures``), the body parsed once (``parse_event``) and scrubbed of
card numbers, and the event stored by the inbox's writer (``db/webhook_inbox.py``): one INSERT
... ON CONFLICT DO NOTHING and its commit, shared by the deliveries that arrive together, no
ORM session. Nothing is processed inline: the host app answers 200 once this returns (the event
is committed by then). One log line and one count per delivery.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog

from payment_lib.domain.card_data import json_may_hold_card_number, redact_value
from payment_lib.domain.errors import InvalidRequest, InvalidSignature
from payment_lib.observability import TRACE_ID, current_trace_id
from payment_lib.services.ports import Clock
from payment_lib.services.webhook_payloads import parse_event
from payment_lib.services.webhooks import (
    MAX_PAYLOAD_BYTES,
    ReceivedEventInfo,
    Store,
    Verifier,
    event_row,
)

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics

log = structlog.get_logger(__name__)
_bound: list[Any] = [None, None]  # the logging configuration seen last, its logger


def _logger() -> Any:
    """This module's logger, bound once per logging configuration (``log`` binds a new one at
    every call: 5 µs, more than the line costs when its level is off)."""
    config = structlog.get_config()
    seen = (config["wrapper_class"], config["logger_factory"], id(config["processors"]))
    if _bound[0] != seen:
        _bound[:] = [seen, log.bind()]
    return _bound[1]


def receive_event(
    payload: bytes,
    signature: str | None,
    *,
    store: Store,
    verify: Verifier,
    secrets: Sequence[str],
    tolerance: int,
    clock: Clock,
    metrics: Metrics,
) -> ReceivedEventInfo:
    """Verify and store one delivery; a duplicate is acknowledged and changes nothing.

    Raises:
        InvalidRequest: the payload is too large, or signed but not a Stripe event.
        InvalidSignature: the signature is missing, wrong or older than ``tolerance``.
    """
    try:
        event, written = _checked(payload, signature, verify, secrets, tolerance)
    except (InvalidRequest, InvalidSignature):
        metrics.webhooks_received["refused"].inc()
        raise
    added = store(event_row(event, verified=True, now=clock()), written)
    metrics.webhooks_received["stored" if added else "duplicate"].inc()
    logger = _logger()
    if getattr(logger, "is_enabled_for", None) is None or logger.is_enabled_for(logging.INFO):
        logger.info(  # the caller's trace id, else one of its own (cheaper than binding one)
            "webhook received",
            stripe_event_id=event["id"],
            event_type=event["type"],
            duplicate=not added,
            **({} if current_trace_id() else {TRACE_ID: os.urandom(16).hex()}),
        )
    return ReceivedEventInfo(event["id"], event["type"], duplicate=not added)


def _checked(
    payload: bytes,
    signature: str | None,
    verify: Verifier,
    secrets: Sequence[str],
    tolerance: int,
) -> tuple[dict[str, Any], str | None]:
    """The delivery's event, verified, parsed and scrubbed (stored and logged without card
    numbers), and its text as received when that is the document (nothing scrubbed)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidRequest(
            f"The webhook payload is too large ({len(payload)} bytes; at most "
            f"{MAX_PAYLOAD_BYTES}).",
            param="payload",
        )
    verify(payload, signature, secrets, tolerance)
    return scrubbed(parse_event(payload), payload.decode())  # verify() checked it is UTF-8


def scrubbed(event: dict[str, Any], text: str | None) -> tuple[dict[str, Any], str | None]:
    """A parsed event without card numbers, and ``text``, the JSON it was parsed from as UTF-8,
    when that is the same document (nothing to scrub: the store may send the text as it is).

    A NUL in the text means the parser read the bytes as UTF-16 or UTF-32 (JSON text has no
    NUL): the UTF-8 text is not what was parsed, so it decides nothing."""
    if text is None or "\x00" in text or json_may_hold_card_number(text):
        return redact_value(event), None
    return event, text
