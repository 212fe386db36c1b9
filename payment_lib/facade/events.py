"""Webhooks, the email outbox and the worker: the facade's event methods."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from payment_lib.services import notifications as _notifications
from payment_lib.services import webhook_backfill as _backfill
from payment_lib.services import webhook_events as _webhook_events
from payment_lib.services import webhook_receive as _receive
from payment_lib.services import webhooks as _webhooks
from payment_lib.services.notifications import NotificationInfo, NotificationReport
from payment_lib.services.webhook_backfill import BackfillReport
from payment_lib.services.webhook_events import WebhookEventInfo
from payment_lib.services.webhooks import ReceivedEventInfo, WebhookReport

if TYPE_CHECKING:
    pass


from payment_lib.facade.wiring import Wiring


class EventsApi(Wiring):
    """Webhooks, the email outbox and the worker: the facade's event methods."""

    def receive_webhook(self, payload: bytes | str, signature: str | None) -> ReceivedEventInfo:
        """Verify and store one Stripe webhook delivery; answer Stripe 200 right after.

        Example:
            ``payments.receive_webhook(request.body, request.headers.get("Stripe-Signature"))``

        The event is processed later by the worker. A duplicate delivery is acknowledged
        (``duplicate=True``) and changes nothing. Needs ``webhook_secrets``, not an API key.

        Raises:
            InvalidSignature: missing, wrong or older than the tolerance (a replay): answer 401.
            InvalidRequest: too large, or not a Stripe event: answer 400.
        """
        from payment_lib.stripe_gateway import verify_webhook  # imports the SDK

        return _receive.receive_event(
            payload.encode() if isinstance(payload, str) else payload,
            signature,
            store=self.database.webhook_inbox.add_once,
            verify=verify_webhook,
            secrets=[s.get_secret_value() for s in self.settings.webhook_secrets],
            tolerance=self.settings.webhook_tolerance_seconds,
            clock=self.clock,
            metrics=self.metrics,
        )

    def receive_webhooks(
        self, lines: Iterable[bytes | str], *, trusted: bool = False
    ) -> BackfillReport:
        """Store many events at once (a backfill): NDJSON lines, each a delivery
        ``{"payload": body, "signature": header}`` verified like ``receive_webhook``, or with
        ``trusted`` a Stripe event read from Stripe's events API with the secret key (stored
        as not signature-verified). All or nothing; duplicates are counted, not stored again.

        Example:
            ``payments.receive_webhooks(open("events.ndjson", "rb"), trusted=True)``

        Raises:
            InvalidSignature: a delivery's signature does not verify (its line is named).
            InvalidRequest: a line is malformed, or unsigned without ``trusted``.
        """
        from payment_lib.stripe_gateway import verify_webhook  # imports the SDK

        return _backfill.receive_events(
            lines,
            trusted=trusted,
            store_all=self.database.webhook_inbox.add_all,
            verify=verify_webhook,
            secrets=[s.get_secret_value() for s in self.settings.webhook_secrets],
            tolerance=self.settings.webhook_tolerance_seconds,
            clock=self.clock,
        )

    def process_webhooks(
        self, limit: int = 100, *, should_stop: Callable[[], bool] | None = None
    ) -> WebhookReport:
        """Apply up to ``limit`` due webhook events, each with the state it changes."""
        return _webhooks.process_events(
            new_uow=self.database.unit_of_work,
            clock=self.clock,
            metrics=self.metrics,
            retry_days=self.settings.renewal_retry_days,
            limit=limit,
            should_stop=should_stop,
            disputes=self._dispute_settings(),
        )

    def replay_webhook(self, event_id: str, *, from_stripe: bool = False) -> WebhookEventInfo:
        """Run a stored event through its handler again (a parked one, say); with
        ``from_stripe``, fetch it from Stripe's events API first when it is not stored.

        Raises:
            NotFound: the event is not stored (nor at Stripe, with ``from_stripe``).
        """
        return _webhooks.replay_event(
            event_id,
            new_uow=self.database.unit_of_work,
            clock=self.clock,
            metrics=self.metrics,
            retry_days=self.settings.renewal_retry_days,
            store=self.database.webhook_inbox.add_once,
            # The gateway (and its API key) only when an event must be fetched.
            fetch=(lambda missing: self.gateway.retrieve_event(missing)) if from_stripe else None,
            disputes=self._dispute_settings(),
        )

    def list_webhook_events(
        self, *, unprocessed: bool = False, limit: int = 100, status: str | None = None
    ) -> list[WebhookEventInfo]:
        """Stored webhook events, oldest first; only those not processed when asked, only
        those with ``status`` (pending, processed, ignored or parked) when given."""
        return _webhook_events.list_events(
            new_uow=self.database.unit_of_work, unprocessed=unprocessed, limit=limit, status=status
        )

    def send_notifications(
        self, limit: int = 50, *, should_stop: Callable[[], bool] | None = None
    ) -> NotificationReport:
        """Send up to ``limit`` due emails from the outbox by SMTP (settings ``smtp_*``)."""
        return _notifications.send_notifications(
            new_uow=self.database.unit_of_work,
            settings=self.settings,
            clock=self.clock,
            metrics=self.metrics,
            limit=limit,
            should_stop=should_stop,
        )

    def list_notifications(
        self, recipient: str | None = None, *, limit: int = 100, status: str | None = None
    ) -> list[NotificationInfo]:
        """The email outbox, oldest first (only ``recipient``'s, or ``status``'s, when given),
        with each email's status: pending, sending, sent, or failed after repeated failures."""
        return _notifications.list_notifications(
            new_uow=self.database.unit_of_work, recipient=recipient, limit=limit, status=status
        )
