"""What operators reach for: filtered, paged listings; resending an email; renaming and
archiving plans (issue 14, item 6). The facade's operations methods."""

from __future__ import annotations

import datetime as dt
import os
import socket

from payment_lib.facade.wiring import Wiring
from payment_lib.services import health as _health
from payment_lib.services import listings as _listings
from payment_lib.services import outbox_admin as _outbox_admin
from payment_lib.services import plans as _plans
from payment_lib.services import stats as _stats
from payment_lib.services.health import HealthLimits, HealthReport
from payment_lib.services.listings import Page, Query
from payment_lib.services.notifications import NotificationInfo
from payment_lib.services.payment_results import PaymentInfo
from payment_lib.services.plans import PlanInfo
from payment_lib.services.refund_results import RefundInfo
from payment_lib.services.stats import OperationsStats
from payment_lib.services.subscriptions import SubscriptionInfo
from payment_lib.services.webhook_events import WebhookEventInfo


class OperationsApi(Wiring):
    """Listings with filters and cursors, email resends, plan updates: for operators."""

    def find_payments(
        self,
        *,
        status: str | None = None,
        user_id: object = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[PaymentInfo]:
        """Payments newest first, only those matching what is given (``since`` <= created
        < ``until``), ``limit`` at most; pass a page's ``next_cursor`` back for the next.

        Example:
            ``page = payments.find_payments(status="failed", limit=50)``

        Raises:
            InvalidRequest: an unknown status, a malformed id or cursor, naive times.
        """
        query = Query.build(
            statuses=_listings.STATUSES["payments"],
            status=status,
            user_id=user_id,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
        return _listings.find_payments(query, new_uow=self.database.unit_of_work)

    def find_refunds(
        self,
        *,
        status: str | None = None,
        payment_id: object = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[RefundInfo]:
        """Refunds newest first, filtered and paged like ``find_payments``."""
        query = Query.build(
            statuses=_listings.STATUSES["refunds"],
            status=status,
            payment_id=payment_id,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
        return _listings.find_refunds(query, new_uow=self.database.unit_of_work)

    def find_subscriptions(
        self,
        *,
        status: str | None = None,
        plan_id: str | None = None,
        user_id: object = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[SubscriptionInfo]:
        """Subscriptions newest first, filtered and paged like ``find_payments``."""
        query = Query.build(
            statuses=_listings.STATUSES["subscriptions"],
            status=status,
            plan_id=plan_id,
            user_id=user_id,
            cursor=cursor,
            limit=limit,
        )
        return _listings.find_subscriptions(query, new_uow=self.database.unit_of_work)

    def find_webhook_events(
        self,
        *,
        status: str | None = None,
        event_type: str | None = None,
        since: dt.datetime | None = None,
        unprocessed: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[WebhookEventInfo]:
        """Stored webhook events oldest first (as the inbox is worked), filtered and paged."""
        query = Query.build(
            statuses=_listings.STATUSES["webhook_events"],
            status=status,
            since=since,
            cursor=cursor,
            limit=limit,
        )
        return _listings.find_webhook_events(
            query,
            event_type=event_type,
            unprocessed=unprocessed,
            new_uow=self.database.unit_of_work,
        )

    def resend_notification(self, notification_id: object) -> NotificationInfo:
        """Send a ``failed`` (or pending) email on the worker's next pass, attempts afresh.

        Raises:
            NotFound; IllegalTransition: it was sent already, or is being sent now.
        """
        return _outbox_admin.resend_notification(
            notification_id, new_uow=self.database.unit_of_work, now=self.clock()
        )

    def update_plan(self, plan_id: str, *, name: str) -> PlanInfo:
        """Rename a plan; its price and interval never change (make a new plan for a new
        price, and archive this one).

        Raises:
            NotFound; InvalidRequest: a bad name.
        """
        return _plans.update_plan(plan_id, name=name, uow=self.database.unit_of_work())

    def archive_plan(self, plan_id: str) -> PlanInfo:
        """Stop selling a plan: purchases of it are refused; its subscriptions go on renewing.

        Raises:
            NotFound.
        """
        return _plans.archive_plan(plan_id, now=self.clock(), uow=self.database.unit_of_work())

    def operations_stats(self) -> OperationsStats:
        """The deployment in numbers: rows by status, queue depths and ages, the webhook lag,
        parked events, the workers seen, the drift the last reconcile found."""
        return _stats.collect_stats(new_uow=self.database.unit_of_work, now=self.clock())

    def check_health(self, *, worker_seen_within_seconds: float = 300) -> HealthReport:
        """Every health check (database, migrations, Stripe, webhook secrets, SMTP, worker,
        backlog) with its status and why. Never raises: a database that cannot be reached is
        a failed check, not DatabaseUnavailable."""
        deployment = _health.Deployment(
            settings=self.settings,
            new_uow=self.database.unit_of_work,
            gateway=lambda: self.gateway,
            revisions=lambda: (self.database_revision(), self.latest_revision()),
            now=self.clock(),
        )
        limits = HealthLimits(worker_seen_within=dt.timedelta(seconds=worker_seen_within_seconds))
        return _health.check_health(deployment, limits)

    def record_worker_heartbeat(self) -> None:
        """Count a pass of this process's worker; written at most every 5 s (the worker
        calls this after each pass; payment-cli doctor reads it)."""
        heartbeat: _stats.Heartbeat | None = getattr(self, "_heartbeat", None)
        if heartbeat is None:
            worker_id = f"{socket.gethostname()}:{os.getpid()}"
            heartbeat = self._heartbeat = _stats.Heartbeat(worker_id, started_at=self.clock())
        heartbeat.beat(new_uow=self.database.unit_of_work, now=self.clock())
