"""Sending the email outbox by SMTP: each notification at least once, almost always once.

A sender claims due notifications in a short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL): it marks them ``sending`` with a lease (``next_attempt_at``) and counts the
attempt, so no other sender takes them; the attempt count is the claim's token. Just before
sending each one it renews that email's lease, if the claim is still its own (a slow mail
server can outlast the lease of a whole batch; then another sender has claimed the rest, and
this one stands aside). Then it sends and records ``sent``, or, on failure, puts it back to
``pending`` with exponential backoff, and after ``MAX_ATTEMPTS`` parks it as ``failed``.

Recording waits out a database outage (a restart, a failover): it is tried again across
reconnection for up to ``RECORD_PATIENCE`` (well inside the lease), so an email the mail server
accepted is recorded once the database is back, not sent again. An email goes out twice only
when the sender dies (or the database stays away longer than that) between the server's
acceptance and the record: the row stays ``sending`` until its lease runs out and is sent again
then, with the same Message-ID (derived from the notification's id), so mail clients show one.

Logs name the notification and its kind, never its contents.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from payment_lib.db.tables import Notification
from payment_lib.domain.card_input import refuse_card_numbers
from payment_lib.domain.errors import DatabaseUnavailable, InvalidRequest
from payment_lib.domain.states import NotificationStatus, check_notification_transition
from payment_lib.notification_templates import render
from payment_lib.observability import iso, trace
from payment_lib.services.ports import Clock, NewUnitOfWork

if TYPE_CHECKING:
    from payment_lib.config import Settings
    from payment_lib.metrics import Metrics

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 6
FIRST_RETRY = dt.timedelta(minutes=1)
LONGEST_RETRY = dt.timedelta(hours=2)
SEND_LEASE = dt.timedelta(minutes=5)  # renewed for each email just before it is sent
SMTP_TIMEOUT_SECONDS = 10.0
# How long a database write of the send path is tried again while the database is unavailable
# (waits of 0.1 s doubling up to 5 s): an email's lease outlasts its send plus this.
RECORD_PATIENCE = dt.timedelta(minutes=2)
FIRST_WAIT, LONGEST_WAIT = 0.1, 5.0

ShouldStop = Callable[[], bool]
_T = TypeVar("_T")


@dataclass
class NotificationReport:
    """What one sending pass did."""

    sent: int = 0
    retried: int = 0
    parked: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "retried": self.retried, "parked": self.parked}


@dataclass(frozen=True)
class NotificationInfo:
    """An email in the outbox as callers see it."""

    id: uuid.UUID
    recipient: str
    kind: str
    status: str  # pending, sending, sent, or failed (parked after repeated failures)
    payload: dict[str, Any]
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    next_attempt_at: dt.datetime | None

    @classmethod
    def of(cls, n: Notification) -> NotificationInfo:
        return cls(
            n.id,
            n.recipient,
            n.kind,
            n.status,
            dict(n.payload),
            n.attempts,
            n.last_error,
            n.created_at,
            n.sent_at,
            n.next_attempt_at,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "recipient": self.recipient,
            "kind": self.kind,
            "status": self.status,
            "payload": self.payload,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "sent_at": iso(self.sent_at),
            "next_attempt_at": iso(self.next_attempt_at),
        }


@dataclass(frozen=True)
class _Claimed:
    id: uuid.UUID
    recipient: str
    kind: str
    payload: dict[str, Any]
    attempts: int


class SmtpSender:
    """One SMTP session for a batch, opened on the first message: security (none, STARTTLS,
    SSL), host, port and credentials come from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._unreachable: smtplib.SMTPException | OSError | None = None

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, message: EmailMessage) -> None:
        """Hand one message to the server; raises smtplib.SMTPException or OSError.

        A server that cannot be reached is tried once per session: every later message
        fails at once with the same error, rather than waiting for its own timeout.
        """
        if self._unreachable is not None:
            raise self._unreachable
        if self._smtp is None:
            try:
                self._smtp = self.connect()
            except (smtplib.SMTPException, OSError) as error:
                self._unreachable = error
                raise
        try:
            self._smtp.send_message(message)
        except smtplib.SMTPServerDisconnected:
            self._smtp = None
            raise

    def connect(self) -> smtplib.SMTP:
        """A session with the server, logged in when the settings hold credentials."""
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.smtp_security == "ssl":
            smtp = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT_SECONDS, context=context
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
        try:
            if s.smtp_security == "starttls":
                smtp.starttls(context=context)
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                smtp.login(s.smtp_username, password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def send_notifications(
    *,
    new_uow: NewUnitOfWork,
    settings: Settings,
    clock: Clock,
    metrics: Metrics,
    limit: int = 50,
    should_stop: ShouldStop | None = None,
) -> NotificationReport:
    """Claim up to ``limit`` due notifications and send them over one SMTP session.

    ``should_stop`` is asked before each one; claimed notifications left over go back to
    pending at once.
    """
    run = NotificationReport()
    batch = _claim(new_uow=new_uow, now=clock(), limit=limit)
    with trace(), SmtpSender(settings) as sender:
        for position, item in enumerate(batch):
            if should_stop is not None and should_stop():
                _release(batch[position:], new_uow=new_uow, now=clock())
                break
            with structlog.contextvars.bound_contextvars(
                notification_id=str(item.id), kind=item.kind
            ):
                outcome = _send(item, sender, settings=settings, new_uow=new_uow, clock=clock)
            if outcome is None:
                continue
            setattr(run, outcome, getattr(run, outcome) + 1)
            metrics.notifications_sent_total.labels(outcome=outcome).inc()
    return run


def _claim(*, new_uow: NewUnitOfWork, now: dt.datetime, limit: int) -> list[_Claimed]:
    with new_uow() as uow:
        claimed = uow.notifications.claim_due(now, limit=limit)
        for notification in claimed:
            _move(notification, NotificationStatus.SENDING)
            notification.next_attempt_at = now + SEND_LEASE
            notification.attempts += 1
        batch = [_Claimed(n.id, n.recipient, n.kind, dict(n.payload), n.attempts) for n in claimed]
        uow.commit()
    return batch


def persist(work: Callable[[], _T]) -> _T:
    """``work()`` (one transaction), tried again while the database is unavailable: waits of
    0.1 s doubling to 5 s, for ``RECORD_PATIENCE`` at most; then DatabaseUnavailable."""
    deadline = time.monotonic() + RECORD_PATIENCE.total_seconds()
    wait = FIRST_WAIT
    while True:
        try:
            return work()
        except DatabaseUnavailable:
            if time.monotonic() + wait > deadline:
                raise
            time.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT)


def _ours(notification: Notification | None, item: _Claimed) -> bool:
    """Whether ``item``'s claim still holds: ``sending`` under the attempt it was claimed as
    (a sender that claims it after the lease ran out counts one more attempt)."""
    return (
        notification is not None
        and notification.status == "sending"
        and notification.attempts == item.attempts
    )


def _renew(item: _Claimed, *, new_uow: NewUnitOfWork, now: dt.datetime) -> bool:
    """Extend the lease of one claimed email before sending it; False if it is not ours now."""
    with new_uow() as uow:
        notification = uow.notifications.lock(item.id)
        if not _ours(notification, item):
            return False
        assert notification is not None
        notification.next_attempt_at = now + SEND_LEASE
        uow.commit()
        return True


def _send(
    item: _Claimed,
    sender: SmtpSender,
    *,
    settings: Settings,
    new_uow: NewUnitOfWork,
    clock: Clock,
) -> str | None:
    """Renew the claim, send, record; returns "sent", "retried" or "parked", or None when
    another sender has taken the email over (its lease had run out)."""
    if not persist(lambda: _renew(item, new_uow=new_uow, now=clock())):
        log.info("notification taken over by another sender", attempts=item.attempts)
        return None
    error: str | None = None
    final = True
    try:
        message = build_message(item.id, item.recipient, item.kind, item.payload, settings)
    except KeyError:
        error = f"no template for {item.kind}"
    else:
        try:
            sender.send(message)
        except (smtplib.SMTPException, OSError) as failure:
            error, final = f"{type(failure).__name__}: {failure}", item.attempts >= MAX_ATTEMPTS
    return persist(lambda: _record(item, new_uow=new_uow, now=clock(), error=error, final=final))


def build_message(
    notification_id: uuid.UUID,
    recipient: str,
    kind: str,
    payload: dict[str, Any],
    settings: Settings,
) -> EmailMessage:
    """The email for one notification, plain text with an HTML alternative."""
    email = render(kind, payload)
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = recipient
    message["Subject"] = email.subject
    domain = settings.smtp_from.rpartition("@")[2] or "payment_lib"
    message["Message-ID"] = f"<{notification_id}@{domain}>"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def _record(
    item: _Claimed, *, new_uow: NewUnitOfWork, now: dt.datetime, error: str | None, final: bool
) -> str:
    """Write how the attempt went, if the claim is still ours (a retry after a lost answer
    to the commit finds it recorded and changes nothing)."""
    if error is None:
        outcome, status = "sent", NotificationStatus.SENT
    elif final:
        outcome, status = "parked", NotificationStatus.FAILED
    else:
        outcome, status = "retried", NotificationStatus.PENDING
    with new_uow() as uow:
        notification = uow.notifications.lock(item.id)
        if notification is not None and _ours(notification, item):
            _move(notification, status)
            notification.last_error = error[:2000] if error else None
            notification.sent_at = now if error is None else None
            notification.next_attempt_at = (
                now + backoff(item.attempts) if outcome == "retried" else None
            )
            uow.commit()
    if error is None:
        log.info("notification sent", attempts=item.attempts)
    else:
        log.warning("notification not sent", attempts=item.attempts, outcome=outcome, error=error)
    return outcome


def _move(notification: Notification, target: NotificationStatus) -> None:
    """One step of the email's state machine (IllegalTransition changes nothing)."""
    check_notification_transition(NotificationStatus(notification.status), target)
    notification.status = target


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failure: a minute, doubling, at most 2 h."""
    return min(FIRST_RETRY * (1 << (attempts - 1)), LONGEST_RETRY)


def _release(batch: list[_Claimed], *, new_uow: NewUnitOfWork, now: dt.datetime) -> None:
    """Give claimed but unsent notifications back at once (the sender is stopping)."""
    with new_uow() as uow:
        for item in batch:
            notification = uow.notifications.lock(item.id)
            if notification is not None and _ours(notification, item):
                _move(notification, NotificationStatus.PENDING)
                notification.attempts -= 1
                notification.next_attempt_at = now
        uow.commit()


def list_notifications(
    *,
    new_uow: NewUnitOfWork,
    recipient: str | None = None,
    limit: int = 100,
    status: str | None = None,
) -> list[NotificationInfo]:
    """The outbox, oldest first; only ``recipient``'s (or ``status``'s) emails when given."""
    refuse_card_numbers({"recipient": recipient, "status": status})
    if status is not None and status not in list(NotificationStatus):
        raise InvalidRequest(
            f"status must be one of {', '.join(NotificationStatus)}.", param="status"
        )
    with new_uow() as uow:
        found = uow.notifications.listing(recipient, limit=limit, status=status)
        return [NotificationInfo.of(n) for n in found]
