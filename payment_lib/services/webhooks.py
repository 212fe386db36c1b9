"""Stripe webhooks: the inbox (receive, store once, acknowledge) and its processing.

Receiving verifies the signature, checks the payload is a Stripe event and stores it with
``INSERT ... ON CONFLICT DO NOTHING`` on its Stripe id, so a duplicate delivery is acknowledged
and changes nothing. Nothing is processed inline: the host app answers 200 at once.

Processing (the worker) claims due events in batches (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so workers never wait on each other's claims) and leases them; then each event is
applied in a transaction of its own, with the state it changes, and marked processed (status
``processed``, or ``ignored`` for a type without a handler). A failing handler is retried with
exponential backoff (status ``pending``) and parked after ``MAX_ATTEMPTS`` with its last error
(status ``parked``, ``next_attempt_at`` NULL): ``replay_event`` runs it again once it is fixed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from payment_lib.domain.card_data import redact_value
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.errors import InvalidRequest, NotFound
from payment_lib.observability import trace
from payment_lib.services.disputes import DisputeSettings
from payment_lib.services.ports import Clock, NewUnitOfWork
from payment_lib.services.webhook_events import WebhookEventInfo
from payment_lib.services.webhook_handlers import EventPolicy, handle_event, handles
from payment_lib.services.webhook_payloads import parse_event

if TYPE_CHECKING:
    from payment_lib.metrics import Metrics

log = structlog.get_logger(__name__)

MAX_PAYLOAD_BYTES = 1024 * 1024  # Stripe's events are a few kB; refuse anything absurd
MAX_ATTEMPTS = 6
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_RETRY = dt.timedelta(hours=1)
# How long a worker may hold claimed events before others may take them (it died, say).
CLAIM_LEASE = dt.timedelta(minutes=5)

Verifier = Callable[[bytes, "str | None", Sequence[str], int], None]
Fetcher = Callable[[str], dict[str, Any]]
ShouldStop = Callable[[], bool]


@dataclass(frozen=True)
class ReceivedEventInfo:
    """What receiving a delivery did: stored it, or recognised a duplicate."""

    stripe_event_id: str
    event_type: str
    duplicate: bool

    @property
    def status(self) -> str:
        """``stored``, or ``duplicate`` when the event was stored before."""
        return "duplicate" if self.duplicate else "stored"

    def to_dict(self) -> dict[str, object]:
        return {
            "stripe_event_id": self.stripe_event_id,
            "event_type": self.event_type,
            "duplicate": self.duplicate,
        }


@dataclass
class WebhookReport:
    """What one processing pass did."""

    processed: int = 0
    retried: int = 0
    parked: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"processed": self.processed, "retried": self.retried, "parked": self.parked}


def receive_event(
    payload: bytes,
    signature: str | None,
    *,
    new_uow: NewUnitOfWork,
    verify: Verifier,
    secrets: Sequence[str],
    tolerance: int,
    clock: Clock,
) -> ReceivedEventInfo:
    """Verify and store one delivery; a duplicate is acknowledged and changes nothing.

    Raises:
        InvalidRequest: the payload is too large, or signed but not a Stripe event.
        InvalidSignature: the signature is missing, wrong or older than ``tolerance``.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidRequest(
            f"The webhook payload is too large ({len(payload)} bytes; at most "
            f"{MAX_PAYLOAD_BYTES}).",
            param="payload",
        )
    verify(payload, signature, secrets, tolerance)
    event = redact_value(parse_event(payload))  # stored and logged without card numbers
    added = _store(event, verified=True, new_uow=new_uow, now=clock())
    log.info(
        "webhook received",
        stripe_event_id=event["id"],
        event_type=event["type"],
        duplicate=not added,
    )
    return ReceivedEventInfo(event["id"], event["type"], duplicate=not added)


def _store(
    event: dict[str, Any], *, verified: bool, new_uow: NewUnitOfWork, now: dt.datetime
) -> bool:
    with new_uow() as uow:
        added = uow.webhook_events.add_once(
            {
                "id": uuid.uuid4(),
                "stripe_event_id": event["id"],
                "event_type": event["type"],
                "payload": event,
                "processed": False,
                "status": "pending",
                "signature_verified": verified,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
        uow.commit()
        return added


def process_events(
    *,
    new_uow: NewUnitOfWork,
    clock: Clock,
    metrics: Metrics,
    retry_days: tuple[int, ...],
    limit: int = 100,
    should_stop: ShouldStop | None = None,
    disputes: DisputeSettings,
) -> WebhookReport:
    """Claim up to ``limit`` due events and apply each in a transaction of its own.

    ``should_stop`` is asked before each event; claimed events left over are released at once.
    """
    now = clock()
    with new_uow() as uow:
        claimed = uow.webhook_events.claim_due(now, limit=limit)
        for event in claimed:
            event.next_attempt_at = now + CLAIM_LEASE
        ids = [event.id for event in claimed]
        uow.commit()
    run = WebhookReport()
    for position, event_id in enumerate(ids):
        if should_stop is not None and should_stop():
            _release(ids[position:], new_uow=new_uow, now=clock())
            break
        outcome = _run(
            event_id,
            new_uow=new_uow,
            clock=clock,
            metrics=metrics,
            retry_days=retry_days,
            replay=False,
            disputes=disputes,
        )
        if outcome is not None:
            setattr(run, outcome, getattr(run, outcome) + 1)
    return run


def replay_event(
    stripe_event_id: str,
    *,
    new_uow: NewUnitOfWork,
    clock: Clock,
    metrics: Metrics,
    retry_days: tuple[int, ...],
    fetch: Fetcher | None = None,
    disputes: DisputeSettings,
) -> WebhookEventInfo:
    """Run a stored event through its handler again, processed or not (parked, say).

    With ``fetch``, an event that is not stored is fetched (from Stripe's events API) and
    stored first, as not signature-verified.

    Raises:
        NotFound: the event is not stored (and not fetched).
    """
    refuse_card_numbers({"event_id": stripe_event_id})
    with new_uow() as uow:
        event = uow.webhook_events.get(stripe_event_id)
        event_id = event.id if event is not None else None
    if event_id is None:
        if fetch is None:
            raise NotFound(f"No stored webhook event {stripe_event_id}.")
        _store(fetch(stripe_event_id), verified=False, new_uow=new_uow, now=clock())
        with new_uow() as uow:
            stored = uow.webhook_events.get(stripe_event_id)
            assert stored is not None
            event_id = stored.id
    _run(
        event_id,
        new_uow=new_uow,
        clock=clock,
        metrics=metrics,
        retry_days=retry_days,
        replay=True,
        disputes=disputes,
    )
    with new_uow() as uow:
        stored = uow.webhook_events.get(stripe_event_id)
        assert stored is not None
        return WebhookEventInfo.of(stored)


def _run(
    event_id: uuid.UUID,
    *,
    new_uow: NewUnitOfWork,
    clock: Clock,
    metrics: Metrics,
    retry_days: tuple[int, ...],
    replay: bool,
    disputes: DisputeSettings,
) -> str | None:
    """Apply one event in one transaction; returns "processed", "retried", "parked", or None
    when another worker (or a replay) processed it first. An event of a type without a
    handler is processed with status ``ignored``."""
    failure: Exception | None = None
    with trace(), new_uow() as uow:
        event = uow.webhook_events.lock(event_id)
        if event is None or (event.processed and not replay):
            return None
        now = clock()
        event_type = event.event_type
        context = {"stripe_event_id": event.stripe_event_id, "event_type": event_type}
        with structlog.contextvars.bound_contextvars(**context):
            policy = EventPolicy(now=now, retry_days=retry_days, metrics=metrics, disputes=disputes)
            try:
                changed = handle_event(uow, event.payload, policy)
            except Exception as error:
                failure = error
            else:
                event.processed = True
                event.status = "processed" if handles(event_type) else "ignored"
                event.processed_at = now
                event.attempts += 1
                event.last_error = None
                event.next_attempt_at = None
                lag = max(0.0, (now - event.created_at).total_seconds())
                uow.commit()
                log.info("webhook processed", changed=changed, lag_seconds=round(lag, 3), **context)
    if failure is not None:
        return _failed(event_id, failure, new_uow=new_uow, now=now, replay=replay, context=context)
    metrics.webhooks_processed_total.labels(event_type=event_type).inc()
    metrics.webhook_lag_seconds.observe(lag)
    for count in policy.after_commit:
        count(metrics)
    return "processed"


def _failed(
    event_id: uuid.UUID,
    error: Exception,
    *,
    new_uow: NewUnitOfWork,
    now: dt.datetime,
    replay: bool,
    context: dict[str, str],
) -> str:
    """Record a failed attempt: retry later with backoff, or park after MAX_ATTEMPTS."""
    with new_uow() as uow:
        event = uow.webhook_events.lock(event_id)
        assert event is not None
        event.attempts += 1
        event.last_error = f"{type(error).__name__}: {error}"[:2000]
        parked = event.attempts >= MAX_ATTEMPTS or (replay and event.next_attempt_at is None)
        event.next_attempt_at = None if parked else now + backoff(event.attempts)
        if not event.processed:  # a processed event's replay failing leaves what it did
            event.status = "parked" if parked else "pending"
        attempts = event.attempts
        uow.commit()
    log.error(
        "webhook handler failed", attempts=attempts, parked=parked, error=str(error), **context
    )
    return "parked" if parked else "retried"


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failure: 30 s, doubling, at most an hour."""
    return min(FIRST_RETRY * (1 << (attempts - 1)), LONGEST_RETRY)


def _release(ids: Sequence[uuid.UUID], *, new_uow: NewUnitOfWork, now: dt.datetime) -> None:
    """Give claimed but untouched events back at once (the worker is stopping)."""
    with new_uow() as uow:
        for event_id in ids:
            event = uow.webhook_events.lock(event_id)
            if event is not None and not event.processed:
                event.next_attempt_at = now
        uow.commit()
