"""Plans, subscriptions and billing runs: the facade's subscription methods."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from payment_lib.domain.errors import InvalidRequest
from payment_lib.services import billing as _billing
from payment_lib.services import plan_changes as _plan_changes
from payment_lib.services import plans as _plans
from payment_lib.services import subscriptions as _subscriptions
from payment_lib.services import trials as _trials
from payment_lib.services.billing import BillingReport
from payment_lib.services.payment_requests import parse_uuid
from payment_lib.services.plan_changes import PlanChangeInfo
from payment_lib.services.plans import PlanInfo
from payment_lib.services.subscriptions import SubscriptionInfo

if TYPE_CHECKING:
    pass


from payment_lib.facade.wiring import Wiring


class SubscriptionsApi(Wiring):
    """Plans, subscriptions and billing runs: the facade's subscription methods."""

    def add_plan(
        self,
        plan_id: str,
        *,
        name: str,
        amount: str,
        currency: str,
        interval: str,
        interval_count: int = 1,
        trial_days: int = 0,
    ) -> PlanInfo:
        """Add a plan, e.g. ``add_plan("basic-monthly", name="Basic", amount="9.99",
        currency="usd", interval="month")``; ``trial_days`` (0 to 730) lets ``start_trial``
        start it without a charge.

        Raises:
            InvalidRequest: bad id, name, amount, currency, interval or trial days, or the id
                exists.
        """
        plan = _plans.validate_plan(
            plan_id, name, amount, currency, interval, interval_count, trial_days
        )
        return _plans.add_plan(plan, uow=self.database.unit_of_work())

    def list_plans(self) -> list[PlanInfo]:
        """All plans, by id."""
        return _plans.list_plans(uow=self.database.unit_of_work())

    def seed_demo_plans(self) -> list[PlanInfo]:
        """Add the demo plans (basic-monthly, pro-yearly, ...) that are missing."""
        return _plans.seed_demo_plans(uow=self.database.unit_of_work())

    def start_trial(
        self,
        *,
        user_id: object,
        plan_id: object,
        payment_method: object = None,
        customer_email: object = None,
    ) -> SubscriptionInfo:
        """Start a plan's trial (the plan has ``trial_days``): ``trialing``, nothing charged.

        Example:
            ``payments.start_trial(user_id=user, plan_id="pro-monthly",
            payment_method="pm_card_visa", customer_email="ada@example.com")``

        With ``payment_method`` the card is saved and verified for off-session charges (a
        SetupIntent) and the first charge is the renewal when the trial ends; without one
        the trial ends then, with no charge, unless a card is added
        (``change_payment_method``). A user gets each plan's trial once.

        Raises:
            InvalidRequest: bad input, no trial, already subscribed or trialed, or the card
                declined or asks for authentication; nothing is stored.
            ProviderUnavailable: Stripe could not be reached; call again (same SetupIntent).
        """
        return _trials.start_trial(
            user_id,
            plan_id,
            payment_method,
            customer_email,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            now=self.clock(),
            metrics=self.metrics,
        )

    def list_subscriptions(self, user_id: object) -> list[SubscriptionInfo]:
        """A user's subscriptions, oldest first."""
        return _subscriptions.list_subscriptions(user_id, new_uow=self.database.unit_of_work)

    def get_subscription(self, subscription_id: object) -> SubscriptionInfo:
        """One subscription (NotFound if unknown)."""
        return _subscriptions.get_subscription(subscription_id, new_uow=self.database.unit_of_work)

    def cancel_subscription(
        self, subscription_id: object, *, at_period_end: bool = False
    ) -> SubscriptionInfo:
        """Cancel now (access ends now), or at the end of the paid period (not renewed).

        Raises:
            IllegalTransition: the subscription has already ended; nothing changes.
        """
        return _subscriptions.cancel_subscription(
            subscription_id,
            at_period_end=at_period_end,
            new_uow=self.database.unit_of_work,
            now=self.clock(),
        )

    def change_payment_method(
        self, subscription_id: object, payment_method: object
    ) -> SubscriptionInfo:
        """Charge the subscription's renewals to another card (pm_...) from now on."""
        return _subscriptions.change_payment_method(
            subscription_id,
            payment_method,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            now=self.clock(),
        )

    def change_plan(
        self,
        subscription_id: object,
        new_plan_id: object,
        *,
        proration: bool = True,
        at_period_end: bool | None = None,
        dry_run: bool = False,
    ) -> PlanChangeInfo:
        """Move a subscription to another plan of the same currency and interval.

        An upgrade (by default: a dearer plan) happens now and charges the prorated difference
        for the rest of the period to the saved card; a cheaper plan waits for the period's
        end (``at_period_end=False``: now, the difference becoming credit for the next
        renewals). With ``proration=False`` a change made now charges and credits nothing.
        Changing to the current plan calls a scheduled change off. ``dry_run`` changes nothing.
        Repeating an upgrade returns the same payment (one charge); a declined one changes
        nothing (status ``declined``).

        Raises:
            NotFound, InvalidRequest (another currency or interval, the same or an archived
            plan), IllegalTransition (the subscription is not active), ProviderUnavailable.
        """
        return _plan_changes.change_plan(
            subscription_id,
            new_plan_id,
            proration=proration,
            at_period_end=at_period_end,
            dry_run=dry_run,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            clock=self.clock,
            metrics=self.metrics,
            retry_days=self.settings.renewal_retry_days,
        )

    def run_billing(
        self,
        now: dt.datetime | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        dry_run: bool = False,
        subscription_id: object = None,
        user_id: object = None,
    ) -> BillingReport:
        """Renew, retry or end every subscription due at ``now`` (default: the clock): ``now``
        decides what is due, never what is stored as a time. ``dry_run`` changes nothing and
        reports what a run would do (``planned``); ``subscription_id`` or ``user_id`` scope it.

        Safe to run on several workers at once, and to repeat: one charge per attempt.
        """
        when = now or self.clock()
        if when.tzinfo is None:
            raise InvalidRequest("now must be an aware datetime (UTC).", param="now")
        scope = _billing.BillingScope(
            subscription_id=None
            if subscription_id is None
            else parse_uuid(subscription_id, "subscription_id"),
            user_id=None if user_id is None else parse_uuid(user_id, "user_id"),
        )
        report = _billing.run_billing(
            when,
            new_uow=self.database.unit_of_work,
            gateway=self.gateway,
            metrics=self.metrics,
            retry_days=self.settings.renewal_retry_days,
            clock=self.clock,
            progress=progress,
            dry_run=dry_run,
            scope=scope,
        )
        if not dry_run:  # and the trial-ending reminders, each trial's once
            report.trial_reminders = _trials.queue_trial_reminders(
                when,
                new_uow=self.database.unit_of_work,
                reminder_days=self.settings.trial_reminder_days,
                subscription_id=scope.subscription_id,
                user_id=scope.user_id,
            )
        return report

    def retry_subscription(self, subscription_id: object) -> BillingReport:
        """Charge a past-due subscription now, with its current card (a retry like the
        scheduled ones: one charge per attempt).

        Raises:
            NotFound; InvalidRequest: the subscription is not past due.
        """
        wanted = parse_uuid(subscription_id, "subscription_id")
        now = self.clock()
        _subscriptions.retry_now(wanted, new_uow=self.database.unit_of_work, now=now)
        return self.run_billing(now, subscription_id=wanted)
