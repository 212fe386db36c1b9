"""Payments, refunds, disputes and the ledger of record: the facade's money methods."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Unpack

from payment_lib.domain.actors import Actor
from payment_lib.domain.errors import InvalidRequest
from payment_lib.services import disputes as _disputes
from payment_lib.services import duplicates as _duplicates
from payment_lib.services import payment_results as _results
from payment_lib.services import payments as _payments
from payment_lib.services import reconcile as _reconcile
from payment_lib.services import recovery as _recovery
from payment_lib.services import refund_results as _refund_results
from payment_lib.services import refunds as _refunds
from payment_lib.services import settle as _settle
from payment_lib.services import stats as _stats
from payment_lib.services.disputes import DisputeInfo
from payment_lib.services.payment_requests import PaymentRequest
from payment_lib.services.payment_results import PaymentInfo
from payment_lib.services.reconcile import ReconcileReport
from payment_lib.services.refund_results import RefundInfo
from payment_lib.services.refunds import RefundRequest
from payment_lib.services.request_fields import PayFields, RefundFields

if TYPE_CHECKING:
    pass


from payment_lib.facade.wiring import Wiring


class MoneyApi(Wiring):
    """Payments, refunds, disputes and the ledger of record: the facade's money methods."""

    def pay(self, **fields: Unpack[PayFields]) -> PaymentInfo:
        """Charge a card once per idempotency key (the fields: ``PayFields``).

        Example:
            ``payments.pay(user_id=user, amount="20.00", currency="usd",
            payment_method="pm_card_visa", idempotency_key="order-1042")``

        Returns:
            The payment: ``succeeded``; ``requires_action`` with ``redirect_url`` for 3-D
            Secure; or ``failed`` with ``error`` (code, message, retry_helps). A repeated key
            returns the stored result with ``replayed=True``.

        Raises:
            InvalidRequest, IdempotencyConflict, RateLimited (``retry_after``),
            ProviderUnavailable / ProviderError: Stripe's answer did not come; the payment
            is ``unknown``. Retry with the same key at any time: it asks Stripe and never
            charges twice (recovery settles it too).
        """
        request = PaymentRequest.build(**fields)
        return _payments.process_payment(
            request,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            clock=self.clock,
            metrics=self.metrics,
            rate_limit=self.settings.rate_limit_per_hour,
            retry_days=self.settings.renewal_retry_days,
            default_return_url=self.settings.return_url,
        )

    def get_payment(self, payment_id: object) -> PaymentInfo:
        """One payment by id (NotFound if unknown)."""
        return _results.get_payment(payment_id, new_uow=self.database.unit_of_work)

    def list_payments(self, user_id: object) -> list[PaymentInfo]:
        """A user's payments, newest first."""
        return _results.list_payments(user_id, new_uow=self.database.unit_of_work)

    def refresh_payment(self, payment_id: object) -> PaymentInfo:
        """Ask Stripe where a payment stands (e.g. after 3-D Secure) and record it."""
        return _settle.refresh_payment(
            payment_id,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            policy=self._outcome_policy(),
        )

    def recover_stale_payments(self, older_than_seconds: float = 120) -> list[PaymentInfo]:
        """Settle payments whose outcome is not known (a crash left them pending, or Stripe's
        answer was lost) by asking Stripe; never charges twice (the worker calls this)."""
        return _recovery.recover_stale_payments(
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            clock=self.clock,
            retry_days=self.settings.renewal_retry_days,
            metrics=self.metrics,
            older_than=dt.timedelta(seconds=older_than_seconds),
        )

    def reconcile(
        self,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        *,
        fix: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> ReconcileReport:
        """Compare our record with Stripe's for what was created in [since, until) (default:
        the last day) and report every drift by kind; with ``fix``, apply what Stripe says
        through the usual outcome paths. Only reads from Stripe. ``progress(checked)`` is
        called after each page.

        Raises:
            InvalidRequest: a naive time, or ``since`` not before ``until``.
        """
        end = until or self.clock()
        start = since or end - dt.timedelta(days=1)
        for name, moment in (("since", start), ("until", end)):
            if moment.tzinfo is None:
                raise InvalidRequest(f"{name} must be an aware datetime (UTC).", param=name)
        if start >= end:
            raise InvalidRequest("since must be before until.", param="since")
        report = _reconcile.reconcile(
            start,
            end,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            policy=self._outcome_policy,
            disputes=self._dispute_settings(),
            fix=fix,
            progress=progress,
        )
        # What it found, for payment-cli stats (the last reconcile's drift).
        _stats.record_reconcile(report, new_uow=self.database.unit_of_work, now=self.clock())
        return report

    def refund(
        self, payment_id: object, *, actor: Actor, **fields: Unpack[RefundFields]
    ) -> RefundInfo:
        """Refund a payment, in full (``amount=None``: everything that remains) or in part.

        Example:
            ``payments.refund(payment.id, actor=Actor.admin("ada"), amount="5.00",
            reason="requested_by_customer", note="ticket 1042")``

        Args:
            actor: who asks; only an actor with the ``admin`` role may refund.
            amount: a decimal string in the payment's currency; partial refunds add up.
            reason: ``duplicate``, ``fraudulent`` or ``requested_by_customer``.
            note: free text kept with the refund (at most 500 characters).
            idempotency_key: names this refund request. Without one, the key is derived
                from the payment and the amount, so the same request made twice refunds
                once; give each deliberate repeat of an amount its own key.

        Returns:
            The refund, usually ``succeeded``, with the payment's status, what is refunded
            and what remains, and the linked subscription's status (a full refund cancels it
            at once). A repeated request returns the stored refund with ``replayed=True``.

        Raises:
            Forbidden (nothing recorded), NotFound, InvalidRequest, AlreadyRefunded,
            IdempotencyConflict, ProviderUnavailable (the refund stays pending; the same
            request later asks Stripe what became of it and never refunds twice).
        """
        request = RefundRequest.build(payment_id, actor, **fields)
        return _refunds.refund_payment(
            request,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            clock=self.clock,
            metrics=self.metrics,
        )

    def get_refund(self, refund_id: object) -> RefundInfo:
        """One refund by id (NotFound if unknown)."""
        return _refund_results.get_refund(refund_id, new_uow=self.database.unit_of_work)

    def list_refunds(self, payment_id: object) -> list[RefundInfo]:
        """A payment's refunds, oldest first."""
        return _refund_results.list_refunds(payment_id, new_uow=self.database.unit_of_work)

    def refund_duplicate_purchases(self) -> list[RefundInfo]:
        """Refund what paid for nothing (the worker calls this): plan payments that succeeded
        while the user already had the plan, renewals of periods no longer needing payment,
        upgrade charges not applied; each once, with its own key, cancelling nothing."""
        return _duplicates.refund_duplicate_purchases(
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            clock=self.clock,
            metrics=self.metrics,
        )

    def recover_pending_refunds(self, older_than_seconds: float = 120) -> list[RefundInfo]:
        """Resolve refunds whose Stripe outcome was lost, by asking Stripe (the worker calls
        this); never refunds twice."""
        return _recovery.recover_pending_refunds(
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            clock=self.clock,
            metrics=self.metrics,
            older_than=dt.timedelta(seconds=older_than_seconds),
        )

    def list_disputes(self, status: str | None = None, limit: int = 100) -> list[DisputeInfo]:
        """Disputes (chargebacks and inquiries) learned from webhooks, newest first; only
        those in ``status`` (e.g. ``needs_response``, ``lost``) when given.

        Raises:
            InvalidRequest: an unknown status.
        """
        return _disputes.list_disputes(
            new_uow=self.database.unit_of_work, status=status, limit=limit
        )

    def get_dispute(self, id_or_stripe_id: object) -> DisputeInfo:
        """One dispute by its id or Stripe's (``dp_...``); NotFound if unknown."""
        return _disputes.get_dispute(id_or_stripe_id, new_uow=self.database.unit_of_work)
