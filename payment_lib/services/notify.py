"""Queueing an email: the one way every sender puts a message in the outbox.

An email is about one thing (a payment, a refund, a subscription, a dispute) and is sent at
most once per kind and thing: its dedupe key is ``<kind>:<thing>``, so a webhook, a retry
and the request path that all learn the same outcome queue one email between them. It is
written in the caller's transaction, with the change it reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from payment_lib.db.unit_of_work import UnitOfWork
from payment_lib.notification_templates import KINDS


def notify(
    uow: UnitOfWork,
    kind: str,
    *,
    recipient: str | None,
    about: object,
    payload: Mapping[str, object],
    now: dt.datetime,
) -> bool:
    """Queue the ``kind`` email about ``about`` for ``recipient`` (no recipient: nothing);
    True if queued, False if that email was queued before."""
    row = notification_row(kind, recipient=recipient, about=about, payload=payload, now=now)
    return row is not None and uow.notifications.enqueue(row)


def notification_row(
    kind: str,
    *,
    recipient: str | None,
    about: object,
    payload: Mapping[str, object],
    now: dt.datetime,
) -> dict[str, object] | None:
    """The outbox row ``notify`` queues (None without a recipient), for queueing many at once
    (``NotificationRepository.enqueue_many``)."""
    if kind not in KINDS:
        raise ValueError(f"no email template for kind {kind!r}")
    if not recipient:
        return None
    return {
        "recipient": recipient,
        "kind": kind,
        "payload": dict(payload),
        "dedupe_key": f"{kind}:{about}",
        "created_at": now,
    }
