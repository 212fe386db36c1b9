"""Reconcile: our record against Stripe's, the ledger of record, over any window.

Stripe's PaymentIntents, charges, refunds and disputes created in the window are walked page by
page (lists reach any age, unlike events) and each page is compared with our rows in one query;
then our payments in the window are walked the same way to find those Stripe does not know.
Memory stays flat however large the window: a page at a time, and a fixed-size filter of the
PaymentIntents seen. Every difference is a ``Drift`` of one kind; with ``fix`` Stripe's truth
is applied through the same outcome paths the request path and the webhooks use. Reconcile
itself only reads from Stripe.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from payment_lib.db.tables import Payment
from payment_lib.domain.disputes import funds_of
from payment_lib.domain.errors import NotFound
from payment_lib.domain.states import UNSETTLED, PaymentStatus
from payment_lib.observability import trace
from payment_lib.services.disputes import DisputeSettings, apply_dispute
from payment_lib.services.outside_refunds import record_stripe_refunds
from payment_lib.services.payment_outcomes import OutcomePolicy, record_outcome, status_for
from payment_lib.services.ports import NewUnitOfWork
from payment_lib.stripe_objects import dispute_snapshot, intent_outcome

if TYPE_CHECKING:
    from payment_lib.services.ports import StripeGateway

log = structlog.get_logger(__name__)

DRIFT_KINDS = (
    "missing_here",  # a PaymentIntent the library made that has no payment here
    "status_differs",  # Stripe decided otherwise than our record says (or we never heard)
    "amount_refunded_differs",  # the charge's refunded total is not ours
    "refund_unknown_here",  # a refund Stripe made that no refund here accounts for
    "dispute_unknown_here",  # a dispute Stripe has that we never recorded
    "unknown_at_stripe",  # a payment here whose PaymentIntent Stripe does not have
)
MAX_LISTED = 1000  # drifts listed in a report; all are counted
# A payment younger than this may still be in flight: not a drift yet.
IN_FLIGHT = dt.timedelta(minutes=2)
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Drift:
    """One difference between our record and Stripe's."""

    kind: str
    stripe_id: str | None
    payment_id: uuid.UUID | None
    ours: str | None
    stripe: str | None
    fixed: bool = False

    def __post_init__(self) -> None:
        if self.kind not in DRIFT_KINDS:
            raise ValueError(f"unknown drift kind {self.kind!r}")

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "stripe_id": self.stripe_id,
            "payment_id": str(self.payment_id) if self.payment_id else None,
            "ours": self.ours,
            "stripe": self.stripe,
            "fixed": self.fixed,
        }


@dataclass
class ReconcileReport:
    """What a reconcile compared and found."""

    since: dt.datetime
    until: dt.datetime
    fix: bool
    checked: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("payment_intents", "charges", "refunds", "disputes", "payments"), 0
        )
    )
    counts: dict[str, int] = field(default_factory=dict)
    drifts: list[Drift] = field(default_factory=list)  # the first MAX_LISTED

    @property
    def drifted(self) -> bool:
        return bool(self.counts)

    @property
    def unfixed(self) -> int:
        return sum(self.counts.values()) - sum(1 for d in self.drifts if d.fixed)

    def add(self, drift: Drift) -> None:
        self.counts[drift.kind] = self.counts.get(drift.kind, 0) + 1
        if len(self.drifts) < MAX_LISTED:
            self.drifts.append(drift)
        log.warning("ledger drift", **drift.to_dict())

    def to_dict(self) -> dict[str, object]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "fix": self.fix,
            "checked": dict(self.checked),
            "counts": dict(self.counts),
            "drifted": self.drifted,
            "drifts": [d.to_dict() for d in self.drifts],
        }


class SeenIds:
    """A Bloom filter of ids in 1 MiB: never says "not seen" for an id it saw; says "seen" for
    one it did not with probability about 1e-8 at 100,000 ids and 2 % at 1,000,000."""

    BITS = 8 * 1024 * 1024
    HASHES = 7

    def __init__(self) -> None:
        self._bits = bytearray(self.BITS // 8)

    def _positions(self, item: str) -> Iterable[int]:
        digest = hashlib.blake2b(item.encode(), digest_size=16).digest()
        first, step = int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:], "big") | 1
        return ((first + n * step) % self.BITS for n in range(self.HASHES))

    def add(self, item: str) -> None:
        for position in self._positions(item):
            self._bits[position >> 3] |= 1 << (position & 7)

    def __contains__(self, item: str) -> bool:
        return all(self._bits[p >> 3] & (1 << (p & 7)) for p in self._positions(item))


@dataclass
class _Run:
    new_uow: NewUnitOfWork
    gateway: StripeGateway
    policy: Callable[[], OutcomePolicy]
    report: ReconcileReport
    progress: Progress | None
    disputes: DisputeSettings
    seen: SeenIds = field(default_factory=SeenIds)
    refunds_recorded: set[str] = field(default_factory=set)
    _refunds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def refunds_of(self, intent_id: str) -> list[dict[str, Any]]:
        """A PaymentIntent's refunds at Stripe, asked once a run (several of its refunds may
        need them)."""
        if intent_id not in self._refunds:
            self._refunds[intent_id] = self.gateway.refunds_of(intent_id)
        return self._refunds[intent_id]

    def walk(self, resource: Any, counted: str) -> Iterable[list[dict[str, Any]]]:
        for page in self.gateway.walk(
            resource, created_from=self.report.since, created_to=self.report.until
        ):
            yield page
            self.report.checked[counted] += len(page)
            if self.progress is not None:
                self.progress(sum(self.report.checked.values()))


def reconcile(
    since: dt.datetime,
    until: dt.datetime,
    *,
    new_uow: NewUnitOfWork,
    gateway: StripeGateway,
    policy: Callable[[], OutcomePolicy],
    disputes: DisputeSettings,
    fix: bool = False,
    progress: Progress | None = None,
) -> ReconcileReport:
    """Compare both ledgers over [since, until); with ``fix``, apply Stripe's truth."""
    report = ReconcileReport(since, until, fix)
    run = _Run(new_uow, gateway, policy, report, progress, disputes)
    with trace(), structlog.contextvars.bound_contextvars(reconcile_since=since.isoformat()):
        log.info("reconcile started", until=until.isoformat(), fix=fix)
        for page in run.walk("payment_intents", "payment_intents"):
            _intents(run, page)
        for page in run.walk("charges", "charges"):
            _charges(run, page)
        for page in run.walk("refunds", "refunds"):
            _refunds(run, page)
        for page in run.walk("disputes", "disputes"):
            _disputes(run, page)
        _ours_unknown_at_stripe(run)
        report = run.report
        log.log(
            30 if report.drifted else 20,
            "reconcile finished",
            checked=report.checked,
            drifts=report.counts,
            unfixed=report.unfixed,
        )
    return report


def _our_id(obj: dict[str, Any], key: str = "payment_id") -> uuid.UUID | None:
    """Our id that a Stripe object carries in its metadata (payment_id, refund_id), if any."""
    try:
        return uuid.UUID(str((obj.get("metadata") or {}).get(key)))
    except ValueError:
        return None


def _agrees(ours: str, expected: PaymentStatus) -> bool:
    if expected == PaymentStatus.SUCCEEDED:
        return ours in ("succeeded", "partially_refunded", "refunded")
    return ours == expected


def _intents(run: _Run, page: list[dict[str, Any]]) -> None:
    now = run.policy().now
    differing = []
    with run.new_uow() as uow:
        by_intent = uow.payments.by_intents([intent["id"] for intent in page])
        wanted = [_our_id(i) for i in page if i["id"] not in by_intent]
        by_id = uow.payments.by_ids([w for w in wanted if w is not None])
    for intent in page:
        run.seen.add(intent["id"])
        payment = by_intent.get(intent["id"])
        if payment is None:
            candidate = by_id.get(_our_id(intent) or uuid.UUID(int=0))
            if candidate is not None and candidate.stripe_transaction_id in (None, intent["id"]):
                payment = candidate
            elif _our_id(intent) is not None:
                run.report.add(
                    Drift("missing_here", intent["id"], _our_id(intent), None, intent["status"])
                )
                continue
            else:
                continue  # not made by this library
        outcome = intent_outcome(intent, request_id=None)
        expected = status_for(outcome)
        in_flight = payment.status in UNSETTLED and now - payment.created_at < IN_FLIGHT
        if expected is None or in_flight or _agrees(payment.status, expected):
            continue
        differing.append((payment.id, payment.status, expected, outcome))
    for payment_id, ours, expected, outcome in differing:
        fixed = False
        if run.report.fix:
            result = record_outcome(payment_id, outcome, new_uow=run.new_uow, policy=run.policy())
            fixed = _agrees(result.status, expected)
        run.report.add(
            Drift("status_differs", outcome.intent_id, payment_id, ours, outcome.status, fixed)
        )


def _charges(run: _Run, page: list[dict[str, Any]]) -> None:
    paid = [c for c in page if c.get("status") == "succeeded" and c.get("payment_intent")]
    with run.new_uow() as uow:
        by_intent = uow.payments.by_intents([c["payment_intent"] for c in paid])
        differing = [
            (charge, by_intent[charge["payment_intent"]])
            for charge in paid
            if charge["payment_intent"] in by_intent
            and int(charge.get("amount_refunded") or 0)
            != by_intent[charge["payment_intent"]].amount_refunded
        ]
    for charge, payment in differing:
        fixed = run.report.fix and _record_refunds(run, payment, charge["payment_intent"])
        run.report.add(
            Drift(
                "amount_refunded_differs",
                charge["id"],
                payment.id,
                str(payment.amount_refunded),
                str(charge.get("amount_refunded") or 0),
                fixed,
            )
        )


def _record_refunds(run: _Run, payment: Payment, intent_id: str) -> bool:
    """Record the refunds Stripe made of this payment that no refund here accounts for."""
    refunds = run.refunds_of(intent_id)
    recorded = record_stripe_refunds(payment.id, refunds, new_uow=run.new_uow, now=run.policy().now)
    run.refunds_recorded.update(recorded)
    with run.new_uow() as uow:
        now_ours = uow.payments.get(payment.id)
    stripe_total = sum(r["amount"] for r in refunds if r.get("status") == "succeeded")
    return now_ours is not None and now_ours.amount_refunded == stripe_total


def _refunds(run: _Run, page: list[dict[str, Any]]) -> None:
    succeeded = [r for r in page if r.get("status") == "succeeded" and r.get("payment_intent")]
    with run.new_uow() as uow:
        known = uow.refunds.by_stripe_ids([r["id"] for r in succeeded])
        ours_by_metadata = uow.refunds.by_ids(
            [i for i in (_our_id(r, "refund_id") for r in succeeded) if i is not None]
        )
        unknown = [
            r
            for r in succeeded
            if r["id"] in run.refunds_recorded  # recorded by this run's fix of its charge
            or (r["id"] not in known and _our_id(r, "refund_id") not in ours_by_metadata)
        ]
        payments = uow.payments.by_intents([r["payment_intent"] for r in unknown])
    for refund in unknown:
        payment = payments.get(refund["payment_intent"])
        if payment is None:
            continue  # a refund of a payment the library did not make
        if refund["id"] in run.refunds_recorded:
            fixed = True  # recorded this run, when its charge's total was found to differ
        elif _covered_by_total(run, payment, refund["payment_intent"]):
            continue  # recorded from its webhook, which carries no refund id
        else:
            fixed = run.report.fix and _record_refunds(run, payment, refund["payment_intent"])
        run.report.add(
            Drift(
                "refund_unknown_here", refund["id"], payment.id, None, str(refund["amount"]), fixed
            )
        )


def _covered_by_total(run: _Run, payment: Payment, intent_id: str) -> bool:
    """Whether our refunded total already counts every refund Stripe made of the payment."""
    refunds = run.refunds_of(intent_id)
    stripe_total = sum(int(r["amount"]) for r in refunds if r.get("status") == "succeeded")
    return payment.amount_refunded >= stripe_total


def _disputes(run: _Run, page: list[dict[str, Any]]) -> None:
    with run.new_uow() as uow:
        known = uow.disputes.known([d["id"] for d in page])
        payments = uow.payments.by_intents(
            [d["payment_intent"] for d in page if isinstance(d.get("payment_intent"), str)]
        )
    for dispute in page:
        if dispute["id"] in known:
            continue
        payment = payments.get(str(dispute.get("payment_intent")))
        fixed = run.report.fix and _record_dispute(run, dispute)
        run.report.add(
            Drift(
                "dispute_unknown_here",
                dispute["id"],
                payment.id if payment else None,
                None,
                dispute.get("status"),
                fixed,
            )
        )


def _record_dispute(run: _Run, dispute: dict[str, Any]) -> bool:
    """Record a dispute as its webhooks would have: Stripe's current state, as of now (so
    none of its older events, arriving late, can take it back)."""
    snapshot = dispute_snapshot(dispute)
    policy = run.policy()
    with run.new_uow() as uow:
        change = apply_dispute(
            uow,
            snapshot,
            seen=int(policy.now.timestamp()),
            funds=funds_of(snapshot.balance) if snapshot.balance is not None else None,
            now=policy.now,
            settings=run.disputes,
        )
        uow.commit()
    if change.status_reached is not None and policy.metrics is not None:
        policy.metrics.disputes_total.labels(change.status_reached).inc()
    return True


def _ours_unknown_at_stripe(run: _Run) -> None:
    """Our payments in the window whose PaymentIntent the walk did not see, confirmed one by
    one (it may have been made outside the window, by a late recovery)."""
    after = None
    while True:
        with run.new_uow() as uow:
            rows = uow.payments.with_intent_created_between(
                run.report.since, run.report.until, after=after, limit=500
            )
        if not rows:
            return
        run.report.checked["payments"] += len(rows)
        for _created, payment_id, intent_id in rows:
            if intent_id in run.seen:
                continue
            try:
                run.gateway.retrieve_payment(intent_id)
            except NotFound:
                run.report.add(Drift("unknown_at_stripe", intent_id, payment_id, None, None))
        after = rows[-1][0], rows[-1][1]
