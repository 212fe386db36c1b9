"""Stripe webhooks: the inbox (receive, store once, acknowledge) and its processing.

Receiving (``webhook_receive.py``) verifies the signature, checks the payload is a Stripe event
and stores it with ``INSERT ... ON CONFLICT DO NOTHING`` on its Stripe id, so a duplicate
delivery is acknowledged and changes nothing. Nothing is processed inline: the host app answers
200 at once.

Processing (the worker) claims due events in batches (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so workers never wait on each other's claims) and applies the batch in one
transaction, each event in a savepoint of its own with the state it changes (payment outcomes
and ignored types first, together: ``webhook_batch``): a failing event is rolled back alone,
the others are marked processed (status ``processed``, or ``ignored`` for a type without a
handler) and commit together. A failing handler is retried with exponential backoff (status
``pending``) and parked after ``MAX_ATTEMPTS`` with its last error (status ``parked``,
``next_attempt_at`` NULL): ``replay_event`` runs it again once it is fixed.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from payment_lib.db.engine import is_lock_conflict, is_unavailable
from payment_lib.db.webhook_batch_repository import ClaimedEvent, WebhookBatchRepository
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.errors import NotFound
from payment_lib.observability import trace
from payment_lib.services.disputes import DisputeSettings
from payment_lib.services.payment_outcomes import OutcomePolicy
from payment_lib.services.ports import Clock, NewUnitOfWork
from payment_lib.services.webhook_batch import AtOnce, apply_at_once
from payment_lib.services.webhook_events import WebhookEventInfo
from payment_lib.services.webhook_handlers import EventPolicy, handle_event, handles

if TYPE_CHECKING:
    from payment_lib.db.tables import WebhookEvent
    from payment_lib.db.unit_of_work import UnitOfWork
    from payment_lib.metrics import Metrics

log = structlog.get_logger(__name__)

MAX_PAYLOAD_BYTES = 1024 * 1024  # Stripe's events are a few kB; refuse anything absurd
MAX_ATTEMPTS = 6
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_RETRY = dt.timedelta(hours=1)
# How long an event that is not due yet waits: a claim of an earlier version leased its events
# for this long (a worker now holds its batch's row locks instead, released if it dies).
CLAIM_LEASE = dt.timedelta(minutes=5)
# How long applying an event may wait on a row another worker's batch holds before it is left
# for the next pass (PostgreSQL's lock_timeout; a deadlock is detected after 1 s).
LOCK_WAIT_MS = 500
# How long one batch's transaction may go on applying events before it commits.
BATCH_SECONDS = 0.25
# Events (savepoints) in one transaction: PostgreSQL keeps the first 64 subtransaction ids of
# each transaction in shared memory; past that, every session's snapshots get slower.
EVENTS_PER_TRANSACTION = 50
# A batch's payment outcomes and ignored types applied together (webhook_batch.py), up to
# EVENTS_AT_ONCE; its other events still take EVENTS_PER_TRANSACTION savepoints at most.
APPLY_AT_ONCE, EVENTS_AT_ONCE = True, 100

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


class Store(Protocol):
    """Stores an inbox row unless its event is stored already; True if it was added. Returns
    once the row is committed (the webhook inbox's writer, ``db/webhook_inbox.py``).
    ``written``: the payload's JSON text as received, when it is the document stored."""

    def __call__(self, row: dict[str, Any], written: str | None = None) -> bool: ...


def event_row(event: dict[str, Any], *, verified: bool, now: dt.datetime) -> dict[str, Any]:
    """The inbox row of a checked (``parse_event``) and scrubbed event: pending, due now."""
    return {
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
    """Apply up to ``limit`` due events: claimed in batches, each batch in one transaction and
    each event in a savepoint of its own (a failing event is rolled back alone and retried
    later; the others commit). A batch holds ``EVENTS_PER_TRANSACTION`` events at most and
    commits after ``BATCH_SECONDS`` at most, so the rows it changes are not held long; the
    next batch takes what it left. After a lock conflict the rest waits for the next pass.

    ``should_stop`` is asked before each event; claimed events left over stay due.
    """
    how = _Applying(clock, metrics, retry_days, disputes)
    report = WebhookReport()
    while (done := report.processed + report.retried + report.parked) < limit:
        wanted = min(limit - done, EVENTS_AT_ONCE if APPLY_AT_ONCE else EVENTS_PER_TRANSACTION)
        with new_uow() as uow:
            claimed = WebhookBatchRepository(uow.session).claim_due(clock(), limit=wanted)
            batch = _drain_batch(uow, claimed, how, should_stop)
            uow.commit()
        for name, count in batch.committed().to_dict().items():
            setattr(report, name, getattr(report, name) + count)
        if batch.ended or (len(claimed) < wanted and not batch.cut_short):
            break
    return report


def replay_event(
    stripe_event_id: str,
    *,
    new_uow: NewUnitOfWork,
    clock: Clock,
    metrics: Metrics,
    retry_days: tuple[int, ...],
    store: Store,
    fetch: Fetcher | None = None,
    disputes: DisputeSettings,
) -> WebhookEventInfo:
    """Run a stored event through its handler again, processed or not (parked, say).

    With ``fetch``, an event that is not stored is fetched (from Stripe's events API) and
    stored first by ``store``, as not signature-verified.

    Raises:
        NotFound: the event is not stored (and not fetched).
    """
    refuse_card_numbers({"event_id": stripe_event_id})
    with new_uow() as uow:
        known = uow.webhook_events.get(stripe_event_id) is not None
    if not known:
        if fetch is None:
            raise NotFound(f"No stored webhook event {stripe_event_id}.")
        store(event_row(fetch(stripe_event_id), verified=False, now=clock()))
    how = _Applying(clock, metrics, retry_days, disputes)
    with new_uow() as uow:
        event = uow.webhook_events.get(stripe_event_id, for_update=True)
        assert event is not None
        uow.webhook_events.wait_for_locks_at_most(LOCK_WAIT_MS)
        batch = _apply_batch(uow, [event], how, replay=True)
        uow.commit()
    batch.committed()
    return WebhookEventInfo.of(event)


@dataclass(frozen=True)
class _Applying:
    """What applying events needs besides the events."""

    clock: Clock
    metrics: Metrics
    retry_days: tuple[int, ...]
    disputes: DisputeSettings


@dataclass
class _Batch:
    """What a batch did; counted and logged once its transaction committed."""

    report: WebhookReport = field(default_factory=WebhookReport)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    cut_short: bool = False  # BATCH_SECONDS ran out before every claimed event was tried
    ended: bool = False  # asked to stop, or an event left due after a lock conflict

    def committed(self) -> WebhookReport:
        for done in self.after_commit:
            done()
        return self.report


def _drain_batch(
    uow: UnitOfWork, claimed: list[ClaimedEvent], how: _Applying, should_stop: ShouldStop | None
) -> _Batch:
    """What the fast path takes of a claimed batch at once (``webhook_batch``), then the rest
    one event at a time; logged in one line once committed."""
    uow.webhook_events.wait_for_locks_at_most(LOCK_WAIT_MS)
    now, at_once = how.clock(), AtOnce(rest=claimed)
    if APPLY_AT_ONCE and claimed and not (should_stop is not None and should_stop()):
        with trace():
            policy = OutcomePolicy(now=now, retry_days=how.retry_days, metrics=how.metrics)
            at_once = apply_at_once(uow, claimed, policy)
    rest = [event.id for event in at_once.rest]
    events = uow.webhook_events.in_order(rest[:EVENTS_PER_TRANSACTION])
    batch = _apply_batch(uow, events, how, replay=False, should_stop=should_stop)
    batch.cut_short = batch.cut_short or len(rest) > EVENTS_PER_TRANSACTION
    batch.report.processed += len(at_once.applied)
    if claimed:
        batch.after_commit.append(lambda: at_once.count(how.metrics, now))
        counts = {"claimed": len(claimed), "at_once": len(at_once.applied)}
        batch.after_commit.append(
            lambda: log.info("webhook batch applied", **batch.report.to_dict(), **counts)
        )
    return batch


def _apply_batch(
    uow: UnitOfWork,
    events: Sequence[WebhookEvent],
    how: _Applying,
    *,
    replay: bool,
    should_stop: ShouldStop | None = None,
) -> _Batch:
    """Apply each event in a savepoint of its own; all of it commits with the caller's
    transaction. An event that waited in vain on another transaction's lock (another worker's
    batch holds a row it changes) is rolled back and left due, with no attempt counted."""
    batch = _Batch()
    applied: list[WebhookEvent] = []
    ends = time.monotonic() + BATCH_SECONDS
    for position, event in enumerate(events):
        if should_stop is not None and should_stop():
            batch.ended = True
            break
        if position and time.monotonic() > ends:
            batch.cut_short = True
            break
        if event.processed and not replay:
            continue
        if _apply_one(uow, event, how, batch, replay=replay):
            applied.append(event)
    now = how.clock()
    for event in applied:  # marked together: one flush for the batch
        event.processed = True
        event.status = "processed" if handles(event.event_type) else "ignored"
        event.processed_at = now
        event.attempts += 1
        event.last_error = None
        event.next_attempt_at = None
    batch.report.processed += len(applied)
    return batch


def _apply_one(
    uow: UnitOfWork, event: WebhookEvent, how: _Applying, batch: _Batch, *, replay: bool
) -> bool:
    """Run one event's handler in a savepoint; True if it applied, else it is rolled back
    (and its failure recorded, or it is left due after a lock conflict)."""
    now = how.clock()
    context = {"stripe_event_id": event.stripe_event_id, "event_type": event.event_type}
    policy = EventPolicy(
        now=now, retry_days=how.retry_days, metrics=how.metrics, disputes=how.disputes
    )
    with trace(), structlog.contextvars.bound_contextvars(**context):
        try:
            with uow.session.begin_nested():
                changed = handle_event(uow, event.payload, policy)
        except Exception as error:
            if is_unavailable(error):
                raise
            if is_lock_conflict(error):
                log.info("webhook event waits for another worker's lock; left due")
                if not event.processed:
                    event.next_attempt_at = now
                batch.ended = True
                return False
            _failed(event, error, now=now, replay=replay, batch=batch, context=context)
            return False
    lag = max(0.0, (now - event.created_at).total_seconds())

    def count() -> None:
        how.metrics.webhooks_processed_total.labels(event_type=context["event_type"]).inc()
        how.metrics.webhook_lag_seconds.observe(lag)
        for counted in policy.after_commit:
            counted(how.metrics)
        log.debug("webhook processed", changed=changed, lag_seconds=round(lag, 3), **context)

    batch.after_commit.append(count)
    return True


def _failed(
    event: WebhookEvent,
    error: Exception,
    *,
    now: dt.datetime,
    replay: bool,
    batch: _Batch,
    context: dict[str, str],
) -> None:
    """Record a failed attempt: retry later with backoff, or park after MAX_ATTEMPTS."""
    event.attempts += 1
    event.last_error = f"{type(error).__name__}: {error}"[:2000]
    parked = event.attempts >= MAX_ATTEMPTS or (replay and event.next_attempt_at is None)
    event.next_attempt_at = None if parked else now + backoff(event.attempts)
    if not event.processed:  # a processed event's replay failing leaves what it did
        event.status = "parked" if parked else "pending"
    if parked:
        batch.report.parked += 1
    else:
        batch.report.retried += 1
    attempts = event.attempts
    batch.after_commit.append(
        lambda: log.error(
            "webhook handler failed", attempts=attempts, parked=parked, error=str(error), **context
        )
    )


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failure: 30 s, doubling, at most an hour."""
    return min(FIRST_RETRY * (1 << (attempts - 1)), LONGEST_RETRY)
