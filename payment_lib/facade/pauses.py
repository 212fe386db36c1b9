"""Pause and resume subscriptions: the facade's methods."""

from __future__ import annotations

from payment_lib.facade.wiring import Wiring
from payment_lib.services import pause as _pause
from payment_lib.services.billing import BillingScope, run_billing
from payment_lib.services.pause import ResumeInfo
from payment_lib.services.subscriptions import SubscriptionInfo, get_subscription


class PausesApi(Wiring):
    """Pause and resume subscriptions."""

    def pause_subscription(
        self, subscription_id: object, *, until: object = None
    ) -> SubscriptionInfo:
        """Pause an active subscription: no renewals until it resumes, by ``resume_subscription``
        or by itself at ``until`` (an aware datetime in the future; None: until resumed).

        Raises:
            InvalidRequest: a bad ``until``; the subscription is past due or ends at its
                period's end. IllegalTransition: it is not active. NotFound. Nothing changes.
        """
        return _pause.pause_subscription(
            subscription_id,
            until,
            new_uow=self.database.unit_of_work,
            now=self.clock(),
            metrics=self.metrics,
        )

    def resume_subscription(self, subscription_id: object) -> ResumeInfo:
        """Resume a paused subscription now: its billing anchor and next billing date move
        forward by the time it was paused. If that date has come, a period starts and is
        charged now, once (a billing run of this subscription); otherwise nothing is charged.

        Raises:
            IllegalTransition: it is not paused; NotFound. Nothing changes.
        """
        now = self.clock()
        new_uow = self.database.unit_of_work
        resumed = _pause.resume_subscription(
            subscription_id, new_uow=new_uow, now=now, metrics=self.metrics
        )
        due = resumed.next_billing_date
        if due is None or due > now:
            return ResumeInfo(resumed)
        report = run_billing(
            now,
            new_uow=new_uow,
            gateway=self.gateway,
            metrics=self.metrics,
            retry_days=self.settings.renewal_retry_days,
            clock=self.clock,
            scope=BillingScope(subscription_id=resumed.id),
        )
        return ResumeInfo(
            get_subscription(resumed.id, new_uow=new_uow),
            report.charged[0] if report.charged else None,
            report.errors[0] if report.errors else None,
        )
