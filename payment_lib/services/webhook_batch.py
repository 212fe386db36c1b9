"""Applying a claimed batch of webhook events at once: the worker's fast path.

Most of a busy inbox is payment outcomes (``payment_intent.*``, ``charge.succeeded`` /
``.failed``) about plain payments (no plan, no subscription), and types the library ignores.
Those are applied together: the payments the batch's events are about are read and locked by
one SELECT, each event is decided in Python in the batch's order with the rules every path
uses (``status_for``, the transition table, ``payment_outcomes``' changes and follow-up email,
``webhook_handlers``' way of finding the payment), and the result is written by a few set-based
statements (``db/webhook_batch_repository.py``), in one savepoint, whatever the batch's size.

Any other event goes to the per-event path (``webhooks._apply_batch``: its own savepoint,
handler and failure record) after the batch's fast part, with every later event about the
same payment: another type with a handler, a payment with a plan or subscription, a ledger
correction, a payload the fast path cannot read (it fails there alone). A card an outcome
brings is kept as ``remember_card`` keeps it: the known row, or a new row written with the
batch. Should the fast part's statements fail, its savepoint is rolled back and the
whole batch goes to the per-event path, so one bad event never holds back the others.

Logs: a debug line per event (``webhook processed``); the caller logs one line per batch.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from payment_lib.db.engine import is_unavailable
from payment_lib.db.webhook_batch_repository import ClaimedEvent, WebhookBatchRepository
from payment_lib.domain.states import LEDGER_CORRECTIONS, PAYMENT_TRANSITIONS, PaymentStatus
from payment_lib.services.notify import notification_row
from payment_lib.services.payment_outcomes import (
    OutcomePolicy,
    card_row,
    follow_up,
    notification_payload,
    outcome_changes,
    status_for,
)
from payment_lib.services.webhook_handlers import (
    carries_outcome,
    find_payment,
    handles,
    metadata_payment_id,
    outcome_of,
)
from payment_lib.stripe_objects import IntentOutcome

if TYPE_CHECKING:
    from payment_lib.db.tables import Payment
    from payment_lib.db.unit_of_work import UnitOfWork
    from payment_lib.metrics import Metrics

log = structlog.get_logger(__name__)


@dataclass
class AtOnce:
    """What the fast part of a batch did: events applied (with their status), and the events
    left to the per-event path, in the batch's order."""

    applied: list[tuple[ClaimedEvent, str]] = field(default_factory=list)
    rest: list[ClaimedEvent] = field(default_factory=list)

    def count(self, metrics: Metrics, now: dt.datetime) -> None:
        """Count the applied events (call once the transaction committed)."""
        by_type: dict[str, int] = {}
        for event, _status in self.applied:
            by_type[event.event_type] = by_type.get(event.event_type, 0) + 1
            metrics.webhook_lag_seconds.observe(max(0.0, (now - event.created_at).total_seconds()))
        for event_type, number in by_type.items():
            metrics.webhooks_processed_total.labels(event_type=event_type).inc(number)


@dataclass
class _Deciding:
    """The batch's payments, as decided so far."""

    by_intent: dict[str, Payment]
    by_id: dict[uuid.UUID, Payment]
    changed: dict[uuid.UUID, Payment] = field(default_factory=dict)
    emails: list[dict[str, object]] = field(default_factory=list)
    per_event: set[uuid.UUID] = field(default_factory=set)  # left to the per-event path
    cards: dict[str, uuid.UUID] = field(default_factory=dict)  # by Stripe's PaymentMethod id
    new_cards: list[dict[str, object]] = field(default_factory=list)
    # Bound once a batch: each call on the module's lazy logger binds a new one.
    logger: Any = field(default_factory=lambda: log.bind())

    def card_for(self, payment: Payment, outcome: IntentOutcome) -> uuid.UUID:
        """The id of the outcome's card: the known row's, or a new row's (added to write)."""
        assert outcome.card is not None
        stripe_id = outcome.card.stripe_payment_method_id
        if stripe_id not in self.cards:
            self.cards[stripe_id] = uuid.uuid4()
            self.new_cards.append({"id": self.cards[stripe_id], **card_row(payment, outcome)})
        return self.cards[stripe_id]

    def logged(self, event: ClaimedEvent, *, changed: bool, **more: object) -> None:
        self.logger.debug(
            "webhook processed",
            stripe_event_id=event.stripe_event_id,
            event_type=event.event_type,
            changed=changed,
            **more,
        )


def apply_at_once(uow: UnitOfWork, claimed: list[ClaimedEvent], policy: OutcomePolicy) -> AtOnce:
    """Apply what the fast path can of ``claimed`` (locked by the caller's claim) in one
    savepoint of the caller's transaction; the rest is returned for the per-event path."""
    repository = WebhookBatchRepository(uow.session)
    try:
        with uow.session.begin_nested():
            done = _decide(uow, repository, claimed, policy)
            for status in ("processed", "ignored"):
                ids = [event.id for event, marked in done.applied if marked == status]
                repository.mark_done(ids, status=status, now=policy.now)
    except Exception as error:
        if is_unavailable(error):
            raise
        cause = getattr(error, "orig", None) or error  # the database's words, not the SQL
        log.warning(
            "webhook batch not applied at once; one event at a time",
            error=f"{type(cause).__name__}: {cause}",
        )
        return AtOnce(rest=list(claimed))
    return done


def _decide(
    uow: UnitOfWork,
    repository: WebhookBatchRepository,
    claimed: list[ClaimedEvent],
    policy: OutcomePolicy,
) -> AtOnce:
    """Decide every event the fast path takes, and write the payments and emails."""
    outcomes: dict[uuid.UUID, IntentOutcome | None] = {}
    intent_ids: set[str] = set()
    payment_ids: set[uuid.UUID] = set()
    card_ids: set[str] = set()
    for event in claimed:
        if not carries_outcome(event.event_type):
            continue
        try:
            outcome = outcome_of(event.payload)
            payment_id = metadata_payment_id(event.payload["data"]["object"])
        except Exception:  # noqa: S112 (the per-event path records why it fails)
            continue
        outcomes[event.id] = outcome
        if outcome is not None and outcome.intent_id is not None:
            intent_ids.add(outcome.intent_id)
            if outcome.card is not None:
                card_ids.add(outcome.card.stripe_payment_method_id)
            if payment_id is not None:
                payment_ids.add(payment_id)
    locked = repository.lock_payments(intent_ids, payment_ids)
    deciding = _Deciding(
        by_intent={p.stripe_transaction_id: p for p in locked if p.stripe_transaction_id},
        by_id={p.id: p for p in locked},
        cards=repository.card_ids(card_ids),
    )
    done = AtOnce()
    for event in claimed:
        if not handles(event.event_type):
            status = "ignored"
            deciding.logged(event, changed=False)
        elif event.id in outcomes and _took(uow, event, outcomes[event.id], deciding, policy):
            status = "processed"
        else:
            done.rest.append(event)
            continue
        done.applied.append((event, status))
    repository.add_cards(deciding.new_cards)
    repository.write_payments(list(deciding.changed.values()))
    uow.notifications.enqueue_many(deciding.emails)
    return done


def _took(
    uow: UnitOfWork,
    event: ClaimedEvent,
    outcome: IntentOutcome | None,
    deciding: _Deciding,
    policy: OutcomePolicy,
) -> bool:
    """Decide one payment event; False if it is the per-event path's."""
    payment = None
    if outcome is not None:
        payment = find_payment(
            outcome,
            event.payload["data"]["object"],
            by_intent=deciding.by_intent.get,
            by_id=deciding.by_id.get,
        )
    if outcome is None or payment is None:  # decides nothing, or not a payment of ours
        deciding.logged(event, changed=False)
        return True
    target = status_for(outcome)
    current = PaymentStatus(payment.status)
    plain = payment.plan_id is None and payment.subscription_id is None
    # A card is kept when the payment moves, or when it has none yet (webhook_handlers._apply_to)
    moves = target is not None and target in PAYMENT_TRANSITIONS[current]
    keeps_card = outcome.card is not None and (moves or payment.payment_method_id is None)
    if (
        payment.id in deciding.per_event
        or not plain
        or target in LEDGER_CORRECTIONS.get(current, ())
    ):
        deciding.per_event.add(payment.id)
        return False
    changed = _decided(uow, payment, outcome, target, policy, deciding)
    if keeps_card:  # remember_card: the known card's row, or a new one written with the batch
        payment.payment_method_id = deciding.card_for(payment, outcome)
        payment.updated_at = policy.now
        deciding.changed[payment.id] = payment
    deciding.logged(event, changed=changed, payment_id=str(payment.id), status=payment.status)
    return True


def _decided(
    uow: UnitOfWork,
    payment: Payment,
    outcome: IntentOutcome,
    target: PaymentStatus | None,
    policy: OutcomePolicy,
    deciding: _Deciding,
) -> bool:
    """``apply_outcome`` for a plain payment, no correction (its card kept by the caller): the
    payment changed in memory (written with the batch), its email queued with the batch; True
    if it changed."""
    if target is None or target not in PAYMENT_TRANSITIONS[PaymentStatus(payment.status)]:
        if outcome.intent_id and payment.stripe_transaction_id is None:
            payment.stripe_transaction_id = outcome.intent_id
            payment.updated_at = policy.now
            deciding.by_intent[outcome.intent_id] = deciding.changed[payment.id] = payment
        return False  # undecided, already recorded, or older than what we know
    changes, decline = outcome_changes(payment, target, outcome, policy)
    for name, value in changes.items():
        setattr(payment, name, value)
    if payment.stripe_transaction_id is not None:
        deciding.by_intent[payment.stripe_transaction_id] = payment
    deciding.changed[payment.id] = payment
    kind = follow_up(uow, payment, target, decline, policy)  # a plain payment: no query
    row = None
    if kind and payment.customer_email:  # no recipient, no email (and no payload to make)
        row = notification_row(
            kind,
            recipient=payment.customer_email,
            about=payment.id,
            payload=notification_payload(payment),
            now=policy.now,
        )
    if row is not None:
        deciding.emails.append(row)
    return True
