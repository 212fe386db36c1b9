# ruff: noqa: F811 (pytest fixtures imported from webhook_helpers)
"""The email outbox: delivered by SMTP to a real server on loopback, once, with retries."""

from __future__ import annotations

import datetime as dt
import ssl
import subprocess
import threading
import time

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from pydantic import SecretStr
from webhook_helpers import SmtpSink, free_port, settings, smtp  # noqa: F401 (fixtures)

from payment_lib import Payments
from payment_lib.notification_templates import KINDS
from payment_lib.services.notifications import MAX_ATTEMPTS

PAYLOADS = {
    "payment_confirmation": {"payment_id": "p-1", "amount": "20.00", "currency": "usd"},
    "payment_failure": {
        "payment_id": "p-1",
        "amount": "20.00",
        "currency": "usd",
        "failure_message": "Card declined due to insufficient funds",
    },
    "action_required": {
        "payment_id": "p-1",
        "amount": "20.00",
        "currency": "usd",
        "redirect_url": "https://bank.example/3ds?x=1&y=<2>",
    },
    "renewal": {
        "payment_id": "p-1",
        "amount": "9.99",
        "currency": "usd",
        "plan_id": "basic-monthly",
        "subscription_id": "s-1",
    },
    "past_due": {
        "payment_id": "p-1",
        "amount": "9.99",
        "currency": "usd",
        "plan_id": "basic-monthly",
        "failure_message": "Your card was declined.",
    },
    "expiry": {"subscription_id": "s-1", "plan_id": "basic-monthly"},
    "plan_changed": {
        "subscription_id": "s-1",
        "from_plan_id": "basic-monthly",
        "to_plan_id": "pro-monthly",
        "effective_at": "2027-02-28T09:30:00+00:00",
        "charged": "9.50",
        "credit": "0.00",
        "currency": "usd",
        "amount": "29.00",
    },
    "trial_ending": {
        "subscription_id": "s-1",
        "plan_id": "pro-monthly",
        "amount": "29.00",
        "currency": "usd",
        "trial_ends_on": "2026-12-14",
        "next_step": "Unless you cancel before then, we will charge 29.00 USD to your card.",
    },
    "trial_ended": {"subscription_id": "s-1", "plan_id": "pro-monthly"},
    "refund_confirmation": {
        "refund_id": "r-1",
        "payment_id": "p-1",
        "amount": "5.00",
        "currency": "usd",
        "amount_refunded": "5.00",
        "fully_refunded": False,
    },
    "refund_failed": {
        "refund_id": "r-1",
        "payment_id": "p-1",
        "amount": "5.00",
        "currency": "usd",
        "failure_reason": "declined",
    },
    "subscription_paused": {
        "subscription_id": "s-1",
        "plan_id": "basic-monthly",
        "paused_at": "2027-01-20",
        "until": "until you resume it",
    },
    "subscription_resumed": {
        "subscription_id": "s-1",
        "plan_id": "basic-monthly",
        "next_billing_date": "2027-03-10",
    },
    "card_expiring": {
        "brand": "visa",
        "last4": "4242",
        "expires": "03/2027",
    },
    "dispute_opened": {
        "stripe_dispute_id": "dp_1",
        "payment_id": "p-1",
        "stripe_charge_id": "ch_1",
        "amount": "20.00",
        "currency": "usd",
        "reason": "fraudulent",
        "status": "needs_response",
        "evidence_due_by": "2030-03-17 17:46 UTC",
    },
}


def enqueue(payments, kind, key, recipient="ada@example.com", payload=None):
    with payments.database.unit_of_work() as uow:
        uow.notifications.enqueue(
            {
                "recipient": recipient,
                "kind": kind,
                "payload": payload or PAYLOADS[kind],
                "dedupe_key": key,
            }
        )
        uow.commit()


def outbox(payments):
    with payments.database.engine.connect() as connection:
        return [
            tuple(r)
            for r in connection.execute(
                sa.text(
                    "SELECT dedupe_key, status, attempts, last_error IS NOT NULL "
                    "FROM notifications ORDER BY dedupe_key"
                )
            )
        ]


def test_every_kind_has_a_plain_text_and_an_html_template():
    assert set(KINDS) == set(PAYLOADS)


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_each_kind_arrives_with_subject_text_and_html(payments, smtp, kind):
    enqueue(payments, kind, f"{kind}:1")

    sent = payments.send_notifications()

    assert sent.sent == 1
    [message] = smtp.wait_for(1)
    assert message["To"] == "ada@example.com"
    assert message["From"] == "billing@shop.example"
    assert message["Subject"]
    text, html = smtp.bodies(message)
    for value in PAYLOADS[kind].values():
        if isinstance(value, str) and value.startswith(("2", "9", "5", "Card", "Your")):
            assert value in text
    assert html.startswith("<!DOCTYPE html>") or "<html" in html
    assert "<2>" not in html  # values are escaped in HTML
    assert outbox(payments) == [(f"{kind}:1", "sent", 1, False)]


def test_a_sent_notification_is_never_sent_again(payments, smtp):
    enqueue(payments, "payment_confirmation", "payment_confirmation:1")
    payments.send_notifications()
    payments.send_notifications()
    time.sleep(0.2)
    assert len(smtp.messages) == 1


def test_an_unreachable_server_is_retried_with_backoff_then_the_notification_is_parked(
    payments, settings
):
    now = [dt.datetime(2027, 1, 1, tzinfo=dt.UTC)]
    down = Payments.from_settings(settings.model_copy(update={"smtp_port": free_port()}))
    down.clock = lambda: now[0]
    try:
        enqueue(down, "payment_failure", "payment_failure:1")
        waits = []
        for _ in range(MAX_ATTEMPTS + 2):
            report = down.send_notifications()
            with down.database.engine.connect() as connection:
                next_at = connection.execute(
                    sa.text("SELECT next_attempt_at FROM notifications")
                ).scalar_one()
            if report.parked:
                break
            assert report.retried == 1
            next_at = (
                next_at if isinstance(next_at, dt.datetime) else dt.datetime.fromisoformat(next_at)
            )
            next_at = next_at if next_at.tzinfo else next_at.replace(tzinfo=dt.UTC)
            waits.append(next_at - now[0])
            assert down.send_notifications().retried == 0  # not before its time
            now[0] = next_at
        assert outbox(down) == [("payment_failure:1", "failed", MAX_ATTEMPTS, True)]
        assert waits == sorted(waits) and len(waits) == MAX_ATTEMPTS - 1
    finally:
        down.close()


def test_a_refusing_server_leaves_the_notification_for_a_later_attempt(payments, smtp):
    smtp.refuse = True
    enqueue(payments, "renewal", "renewal:1")
    assert payments.send_notifications().retried == 1
    assert outbox(payments) == [("renewal:1", "pending", 1, True)]


def test_several_senders_at_once_send_each_notification_once(payments, settings, smtp):
    for n in range(40):
        enqueue(
            payments,
            "payment_confirmation",
            f"payment_confirmation:{n}",
            recipient=f"user{n}@example.com",
        )
    senders = [Payments.from_settings(settings) for _ in range(4)]
    try:
        threads = [
            threading.Thread(target=s.send_notifications, kwargs={"limit": 7})
            for s in senders
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for sender in senders:
            sender.send_notifications()
    finally:
        for sender in senders:
            sender.close()

    messages = smtp.wait_for(40)
    time.sleep(0.2)
    assert len(smtp.messages) == 40
    assert len({m["Message-ID"] for m in messages}) == 40
    assert {status for _, status, _, _ in outbox(payments)} == {"sent"}


class Credentials:
    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (b"mailer", b"s3cret")
        return AuthResult(success=ok)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_credentials_from_the_settings_are_used_to_log_in(payments, settings):
    sink = SmtpSink()
    sink.controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=sink.port,
        authenticator=Credentials(),
        auth_required=True,
        auth_require_tls=False,
    )
    sink.controller.start()
    mailer = Payments.from_settings(
        settings.model_copy(
            update={
                "smtp_port": sink.port,
                "smtp_username": "mailer",
                "smtp_password": SecretStr("s3cret"),
            }
        )
    )
    try:
        enqueue(mailer, "expiry", "expiry:1")
        assert mailer.send_notifications().sent == 1
        assert len(sink.wait_for(1)) == 1
    finally:
        mailer.close()
        sink.controller.stop()


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1 that the sender's default context trusts."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_starttls_and_ssl_are_used_and_the_certificate_is_checked(
    payments, settings, certificate, security
):
    sink = SmtpSink()
    tls = {
        "starttls": {"tls_context": certificate, "require_starttls": True},
        "ssl": {"ssl_context": certificate},
    }[security]
    sink.controller = Controller(sink, hostname="127.0.0.1", port=sink.port, **tls)
    sink.controller.start()
    mailer = Payments.from_settings(
        settings.model_copy(update={"smtp_port": sink.port, "smtp_security": security})
    )
    try:
        enqueue(mailer, "renewal", "renewal:tls")
        assert mailer.send_notifications().sent == 1
        assert len(sink.wait_for(1)) == 1
    finally:
        mailer.close()
        sink.controller.stop()


def test_a_server_certificate_that_is_not_trusted_is_refused(
    payments, settings, certificate, monkeypatch
):
    monkeypatch.delenv("SSL_CERT_FILE")
    sink = SmtpSink()
    sink.controller = Controller(
        sink, hostname="127.0.0.1", port=sink.port, tls_context=certificate, require_starttls=True
    )
    sink.controller.start()
    mailer = Payments.from_settings(
        settings.model_copy(update={"smtp_port": sink.port, "smtp_security": "starttls"})
    )
    try:
        enqueue(mailer, "renewal", "renewal:untrusted")
        assert mailer.send_notifications().retried == 1
        assert sink.messages == []
    finally:
        mailer.close()
        sink.controller.stop()


def test_the_outbox_can_be_listed_by_recipient(payments, smtp):
    enqueue(payments, "payment_confirmation", "payment_confirmation:1")
    enqueue(payments, "renewal", "renewal:1")
    enqueue(payments, "expiry", "expiry:1", recipient="bob@example.com")
    payments.send_notifications(limit=1)

    listed = payments.list_notifications(recipient="ada@example.com")

    assert [(n.kind, n.status, n.attempts) for n in listed] == [
        ("payment_confirmation", "sent", 1),
        ("renewal", "pending", 0),
    ]
    assert listed[0].sent_at is not None and listed[1].sent_at is None
    assert listed[0].to_dict()["recipient"] == "ada@example.com"
    assert len(payments.list_notifications()) == 3


def test_an_email_whose_sender_died_mid_send_goes_out_when_the_lease_ends(payments, smtp):
    from payment_lib.services.notifications import SEND_LEASE

    now = [dt.datetime(2027, 1, 1, tzinfo=dt.UTC)]
    payments.clock = lambda: now[0]
    enqueue(payments, "renewal", "renewal:orphan")
    with payments.database.unit_of_work() as uow:  # a sender claims it, then dies
        [claimed] = uow.notifications.claim_due(now[0], limit=10)
        claimed.status, claimed.next_attempt_at = "sending", now[0] + SEND_LEASE
        uow.commit()

    assert payments.send_notifications().sent == 0
    now[0] += SEND_LEASE
    assert payments.send_notifications().sent == 1
    assert len(smtp.wait_for(1)) == 1
