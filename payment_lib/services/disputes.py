"""Disputes (chargebacks and inquiries), learned from Stripe's ``charge.dispute.*`` webhooks.

One row per Stripe dispute, inserted race-free by whichever event comes first and then kept
at the newest state any event showed (``domain.disputes`` says which is newer), so events in
any order and any number of deliveries end in one state. The dispute is linked to our payment
by its PaymentIntent (or the payment id in its expanded charge's metadata); one about a
payment the library did not make is kept unlinked, with a warning.

What follows from a dispute, in the transaction of its event:

- the payment shows it: ``dispute_status``, and ``amount_lost`` (the disputed amount once the
  dispute is lost, 0 otherwise);
- the first time we hear of a dispute, one email to ``admin_email`` (``dispute_opened``: the
  amount, reason, payment and evidence deadline) and a warning in the log; an error in the
  log when it is lost;
- the subscription the payment paid for ends (``cancelled``) as ``dispute_ends_subscription``
  says: when the dispute is lost (default), as soon as a chargeback opens, or never.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import structlog

from payment_lib.db.tables import Dispute, Payment
from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.disputes import (
    CLOSED,
    STATUSES,
    DisputeState,
    Funds,
    advance,
    ends_subscription,
)
from payment_lib.domain.errors import InvalidRequest, NotFound
from payment_lib.domain.money import Money, format_amount
from payment_lib.domain.states import SubscriptionStatus
from payment_lib.observability import iso
from payment_lib.services.notify import notify
from payment_lib.services.ports import NewUnitOfWork
from payment_lib.services.subscriptions import LIVE, move_subscription
from payment_lib.stripe_objects import DisputeSnapshot

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DisputeSettings:
    """Who hears of a new dispute, and when a dispute ends its subscription."""

    admin_email: str | None = None
    ends_subscription: str = "lost"  # "lost", "opened" or "never"


@dataclass(frozen=True)
class DisputeChange:
    """What applying one event did: whether anything changed, and the status it reached
    when the status changed (or the dispute is new)."""

    changed: bool
    status_reached: str | None = None


@dataclass(frozen=True)
class DisputeInfo:
    """A dispute as callers see it."""

    id: uuid.UUID
    stripe_dispute_id: str
    payment_id: uuid.UUID | None
    stripe_charge_id: str | None
    amount: Money
    reason: str | None
    status: str
    evidence_due_by: dt.datetime | None
    funds_withdrawn: bool
    closed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, d: Dispute) -> DisputeInfo:
        return cls(
            id=d.id,
            stripe_dispute_id=d.stripe_dispute_id,
            payment_id=d.payment_id,
            stripe_charge_id=d.stripe_charge_id,
            amount=Money(d.amount, d.currency),
            reason=d.reason,
            status=d.status,
            evidence_due_by=d.evidence_due_by,
            funds_withdrawn=d.funds_withdrawn,
            closed_at=d.closed_at,
            created_at=d.created_at,
            updated_at=d.updated_at,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "stripe_dispute_id": self.stripe_dispute_id,
            "payment_id": str(self.payment_id) if self.payment_id else None,
            "stripe_charge_id": self.stripe_charge_id,
            "amount": self.amount.amount,
            "currency": self.amount.currency,
            "reason": self.reason,
            "status": self.status,
            "evidence_due_by": iso(self.evidence_due_by),
            "funds_withdrawn": self.funds_withdrawn,
            "closed_at": iso(self.closed_at),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


def apply_dispute(
    uow: UnitOfWork,
    dispute: DisputeSnapshot,
    *,
    seen: int,
    funds: Funds | None,
    now: dt.datetime,
    settings: DisputeSettings,
) -> DisputeChange:
    """Record one event's snapshot of a dispute and everything that follows from it.

    Args:
        seen: the event's ``created``: snapshots older than the state known change nothing.
        funds: where the disputed amount stands by this snapshot (None: it does not say).

    Returns:
        Whether anything changed, and the status reached if the status changed.
    """
    # The payment is locked before the dispute, by every event of the dispute: two events of
    # one dispute processed at once wait for each other instead of deadlocking.
    payment = _payment_for(uow, dispute)
    inserted = uow.disputes.add_once(_row(dispute, payment, seen=seen, funds=funds, now=now))
    row = uow.disputes.lock(dispute.dispute_id)
    assert row is not None
    context = {"stripe_dispute_id": row.stripe_dispute_id, "stripe_charge_id": dispute.charge_id}
    if inserted:
        _opened(uow, row, payment, now=now, settings=settings, context=context)
        status_changed = changed = True
    else:
        status_changed, changed = _advance(row, dispute, seen=seen, funds=funds, now=now)
    if row.payment_id is None and payment is not None:
        row.payment_id = payment.id
        changed = True
    if not changed:
        return DisputeChange(changed=False)
    if status_changed and row.status == "lost":
        log.error("dispute lost", status=row.status, amount=row.amount, **context)
    elif not inserted:
        log.info(
            "dispute updated", status=row.status, funds_withdrawn=row.funds_withdrawn, **context
        )
    if payment is not None:
        _show_on_payment(uow, row, payment, now=now, settings=settings)
    return DisputeChange(changed=True, status_reached=row.status if status_changed else None)


def _row(
    dispute: DisputeSnapshot,
    payment: Payment | None,
    *,
    seen: int,
    funds: Funds | None,
    now: dt.datetime,
) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "stripe_dispute_id": dispute.dispute_id,
        "payment_id": payment.id if payment is not None else None,
        "stripe_charge_id": dispute.charge_id,
        "amount": dispute.amount,
        "currency": dispute.currency,
        "reason": dispute.reason,
        "status": dispute.status,
        "evidence_due_by": _moment(dispute.evidence_due_by),
        "funds_withdrawn": DisputeState.first(dispute.status, seen, funds).funds_withdrawn,
        "stripe_updated": seen,
        "closed_at": _moment(seen) if dispute.status in CLOSED else None,
        "created_at": now,
        "updated_at": now,
    }


def _advance(
    row: Dispute, dispute: DisputeSnapshot, *, seen: int, funds: Funds | None, now: dt.datetime
) -> tuple[bool, bool]:
    """Move the row to what the snapshot adds; returns (status changed, changed)."""
    known = DisputeState(row.status, row.stripe_updated, row.funds_withdrawn)
    state, newer = advance(known, dispute.status, seen, funds)
    if newer:
        if state.status in CLOSED and row.status not in CLOSED:
            row.closed_at = _moment(seen)
        row.amount, row.currency, row.reason = dispute.amount, dispute.currency, dispute.reason
        row.evidence_due_by = _moment(dispute.evidence_due_by) or row.evidence_due_by
        row.stripe_charge_id = dispute.charge_id or row.stripe_charge_id
    row.status, row.stripe_updated, row.funds_withdrawn = (
        state.status,
        state.seen,
        state.funds_withdrawn,
    )
    changed = (state.status, state.funds_withdrawn) != (known.status, known.funds_withdrawn)
    if changed:
        row.updated_at = now
    return state.status != known.status, changed


def _opened(
    uow: UnitOfWork,
    row: Dispute,
    payment: Payment | None,
    *,
    now: dt.datetime,
    settings: DisputeSettings,
    context: dict[str, str | None],
) -> None:
    """The first event of a dispute, whichever it is: tell a person, once."""
    details = {
        "amount": row.amount,
        "currency": row.currency,
        "reason": row.reason,
        "status": row.status,
        "evidence_due_by": row.evidence_due_by.isoformat() if row.evidence_due_by else None,
    }
    if payment is None:
        log.warning("dispute about a payment this library did not make", **details, **context)
    log.warning(
        "dispute opened",
        payment_id=str(payment.id) if payment else None,
        admin_notified=settings.admin_email is not None,
        **details,
        **context,
    )
    due = row.evidence_due_by
    notify(
        uow,
        "dispute_opened",
        recipient=settings.admin_email,
        about=row.stripe_dispute_id,
        payload={
            "stripe_dispute_id": row.stripe_dispute_id,
            "payment_id": str(payment.id) if payment else "(not made by this library)",
            "stripe_charge_id": row.stripe_charge_id,
            "amount": format_amount(row.amount, row.currency),
            "currency": row.currency,
            "reason": row.reason or "not given",
            "status": row.status,
            "evidence_due_by": due.strftime("%Y-%m-%d %H:%M UTC") if due else "none",
        },
        now=now,
    )


def _show_on_payment(
    uow: UnitOfWork,
    row: Dispute,
    payment: Payment,
    *,
    now: dt.datetime,
    settings: DisputeSettings,
) -> None:
    """The payment's dispute summary, and the subscription it paid for, as the dispute says."""
    payment.dispute_status = row.status
    payment.amount_lost = row.amount if row.status == "lost" else 0
    payment.updated_at = now
    if payment.subscription_id is None or not ends_subscription(
        settings.ends_subscription, row.status
    ):
        return
    subscription = uow.subscriptions.get(payment.subscription_id, for_update=True)
    if subscription is None or subscription.status not in LIVE:
        return
    move_subscription(
        subscription, SubscriptionStatus.CANCELLED, now=now, reason=f"dispute {row.status}"
    )
    log.warning(
        "subscription ended by a dispute",
        subscription_id=str(subscription.id),
        stripe_dispute_id=row.stripe_dispute_id,
        status=row.status,
    )


def _payment_for(uow: UnitOfWork, dispute: DisputeSnapshot) -> Payment | None:
    """Our payment, locked: by the disputed PaymentIntent, or by the payment id the library
    puts in every PaymentIntent's metadata (which Stripe copies to its charges), or the one
    an earlier event of this dispute linked it to."""
    if dispute.intent_id is not None:
        payment = uow.payments.by_intent(dispute.intent_id, for_update=True)
        if payment is not None:
            return payment
    try:
        payment_id: uuid.UUID | None = uuid.UUID(str(dispute.payment_id))
    except ValueError:
        known = uow.disputes.by_stripe_id(dispute.dispute_id)
        payment_id = known.payment_id if known is not None else None
    return uow.payments.get(payment_id, for_update=True) if payment_id else None


def _moment(timestamp: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC) if timestamp else None


# Reading ------------------------------------------------------------------------------------


def list_disputes(
    *, new_uow: NewUnitOfWork, status: str | None = None, limit: int = 100
) -> list[DisputeInfo]:
    """Disputes newest first, only those in ``status`` when given.

    Raises:
        InvalidRequest: an unknown status.
    """
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}.", param="status")
    with new_uow() as uow:
        return [DisputeInfo.of(d) for d in uow.disputes.listing(status=status, limit=limit)]


def get_dispute(id_or_stripe_id: object, *, new_uow: NewUnitOfWork) -> DisputeInfo:
    """One dispute by our id (a UUID) or Stripe's (``dp_...``, ``du_...``).

    Raises:
        NotFound: no such dispute.
    """
    refuse_card_numbers({"dispute_id": id_or_stripe_id})
    wanted = str(id_or_stripe_id).strip()
    with new_uow() as uow:
        try:
            found = uow.disputes.get(uuid.UUID(wanted))
        except ValueError:
            found = uow.disputes.by_stripe_id(wanted)
        if found is None:
            raise NotFound(f"No dispute {wanted}.")
        return DisputeInfo.of(found)
