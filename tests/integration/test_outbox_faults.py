# ruff: noqa: F811 (pytest fixtures imported from webhook_helpers and restarts)
"""The email outbox through faults (issue 15, item 2): a slow mail server does not let a second
sender send a claimed email again (the lease is renewed for each email, and a sender whose
claim was taken over stands aside); after the mail server accepts a message, recording "sent"
waits out a PostgreSQL restart instead of giving up (a restart costs a delay, not a
duplicate)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from restarts import restartable, restartable_url  # noqa: F401 (fixtures)
from test_notifications import PAYLOADS
from webhook_helpers import SmtpSink, webhook_settings

from payment_lib import Payments
from payment_lib.services.notifications import SEND_LEASE

T0 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


class HookedSink(SmtpSink):
    """The loopback SMTP server; ``hook(count)`` runs after each message is kept and before
    the server answers 250 (the sender waits for that answer)."""

    def __init__(self, hook=None) -> None:
        super().__init__()
        self.hook = hook or (lambda _count: None)

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        self.hook(len(self.messages))
        return answer


@pytest.fixture
def sink():
    sink = HookedSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


def enqueue(database, count):
    for number in range(count):
        with database.unit_of_work() as uow:
            uow.notifications.enqueue({
                "recipient": f"user{number}@example.com", "kind": "renewal",
                "payload": PAYLOADS["renewal"], "dedupe_key": f"renewal:{number}",
                "created_at": T0 + dt.timedelta(seconds=number),
            })
            uow.commit()


def outbox(database_url):
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            sql = "SELECT status, count(*) FROM notifications GROUP BY status"
            return dict(tuple(row) for row in connection.execute(sa.text(sql)))
    finally:
        engine.dispose()


def message_ids(sink):
    return [message["Message-ID"] for message in sink.messages]


def test_a_slow_mail_server_lets_no_second_sender_send_a_claimed_email_again(
    database_url, stripe_target, sink
):
    """Each email takes three minutes (of the shared clock): the batch outlives the lease
    it was claimed with, and a second sender claims the rest while the first still sends."""
    now = [T0]
    settings = webhook_settings(database_url, stripe_target, sink)
    first = Payments.from_settings(settings, registry=CollectorRegistry())
    second = Payments.from_settings(settings, registry=CollectorRegistry())
    for facade in (first, second):
        facade.clock = lambda: now[0]
    enqueue(first.database, 5)
    runs = {}

    def second_sender():
        runs["second"] = second.send_notifications(limit=5)

    def slow_server(count):
        now[0] += SEND_LEASE * 3 / 5
        if count == 2:  # the first sender's lease on emails 3-5 has run out: the second claims
            thread = threading.Thread(target=second_sender)
            thread.start()
            deadline = time.monotonic() + 10
            while outbox(database_url).get("sending", 0) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.2)  # its claim is committed; the first sender gets its answer now
            runs["thread"] = thread

    sink.hook = slow_server
    try:
        runs["first"] = first.send_notifications(limit=5)
        runs["thread"].join(30)
    finally:
        first.close()
        second.close()

    assert len(sink.messages) == 5
    assert len(set(message_ids(sink))) == 5
    assert outbox(database_url) == {"sent": 5}
    assert (runs["first"].sent, runs["second"].sent) == (2, 3)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_recording_sent_waits_out_a_restart_after_the_server_accepted(
    restartable, restartable_url, stripe_target, sink, mode
):
    """PostgreSQL stops right after the mail server accepted the second email and before the
    sender records it; it comes back a second later."""
    restarted = []

    def stop_after_accepting(count):
        if count == 2:
            restartable.stop(mode)
            restarted.append(restartable.start_soon(after=1.0))

    sink.hook = stop_after_accepting
    settings = webhook_settings(restartable_url, stripe_target, sink)
    with Payments.from_settings(settings, registry=CollectorRegistry()) as payments:
        enqueue(payments.database, 4)
        run = payments.send_notifications(limit=10)
    restarted[0].join(30)

    assert run.sent == 4
    assert len(sink.messages) == 4 and len(set(message_ids(sink))) == 4
    assert outbox(restartable_url) == {"sent": 4}
