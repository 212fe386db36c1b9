"""The email outbox as operators work it: resend an email given up on after repeated
failures (``failed``), or bring a pending one forward. A sent email is never sent again."""

from __future__ import annotations

import datetime as dt

import structlog

from payment_lib.domain.errors import IllegalTransition, NotFound
from payment_lib.domain.states import NotificationStatus
from payment_lib.services.notifications import NotificationInfo
from payment_lib.services.payment_requests import parse_uuid
from payment_lib.services.ports import NewUnitOfWork

log = structlog.get_logger(__name__)


def resend_notification(
    notification_id: object, *, new_uow: NewUnitOfWork, now: dt.datetime
) -> NotificationInfo:
    """Queue the email to be sent on the worker's next pass, its attempts counted afresh.

    Raises:
        InvalidRequest: a malformed id. NotFound: no such email.
        IllegalTransition: it was sent, or a sender holds it now; nothing changes.
    """
    wanted = parse_uuid(notification_id, "notification_id")
    with new_uow() as uow:
        notification = uow.notifications.lock(wanted)
        if notification is None:
            raise NotFound(f"No notification {wanted}.")
        current = NotificationStatus(notification.status)
        if current == NotificationStatus.SENT:
            raise IllegalTransition(f"Notification {wanted} was sent; it is not sent again.")
        if current == NotificationStatus.SENDING:
            raise IllegalTransition(f"Notification {wanted} is being sent now.")
        notification.status = NotificationStatus.PENDING
        notification.attempts = 0
        notification.next_attempt_at = now
        uow.commit()
        log.info("notification resend queued", notification_id=str(wanted), was=current)
        return NotificationInfo.of(notification)
