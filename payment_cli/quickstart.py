"""``payment-cli quickstart``: the seed's four scenarios, end to end, through the public API.

With no configuration it migrates the embedded SQLite database and runs Stripe's test mode
in-process (payment_lib.testing's emulator). With PAYMENT_STRIPE_API_KEY set and no
PAYMENT_STRIPE_API_BASE it talks to real Stripe test mode instead; there the webhook scenario
is skipped, since completing 3-D Secure needs a person at the bank's page.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import click
from pydantic import SecretStr
from sqlalchemy import make_url

from payment_lib import Actor, ConfigurationError, PaymentError, PaymentInfo, Payments, Settings
from payment_lib.testing import StripeEmulator, signature_header

EMAIL = "quickstart@example.com"
RETURN_URL = "https://shop.example/payments/done"


class ScenarioFailed(Exception):
    """A scenario's outcome was not the expected one."""


class Skipped(Exception):
    """A scenario cannot run against this Stripe."""


@dataclass
class Outcome:
    name: str
    result: str
    seconds: float
    detail: str = ""


def _say(text: str) -> None:
    click.echo(f"  {text}")


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise ScenarioFailed(what)


@contextlib.contextmanager
def _stripe(settings: Settings) -> Iterator[tuple[Settings, StripeEmulator | None]]:
    """Real Stripe test mode when a key is configured without an API base, else the emulator."""
    if settings.stripe_api_key is not None and settings.stripe_api_base is None:
        yield settings, None
        return
    with StripeEmulator(host="127.0.0.1", port=0) as emulator:
        yield (
            settings.model_copy(
                update={
                    "stripe_api_key": SecretStr(emulator.api_key),
                    "stripe_api_base": emulator.url,
                }
            ),
            emulator,
        )


class Quickstart:
    """The scenarios share one facade, one user and the payment of the first scenario."""

    def __init__(self, payments: Payments, emulator: StripeEmulator | None, secret: str) -> None:
        self.payments = payments
        self.emulator = emulator
        self.secret = secret
        self.user = str(uuid.uuid4())
        self.subscribed: uuid.UUID | None = None

    def _pay(
        self,
        *,
        amount: str,
        method: str,
        plan: str | None = None,
        user: str | None = None,
        return_url: str | None = None,
    ) -> PaymentInfo:
        return self.payments.pay(
            user_id=user or self.user,
            amount=amount,
            currency="usd",
            payment_method=method,
            idempotency_key=f"quickstart-{uuid.uuid4()}",
            plan_id=plan,
            customer_email=EMAIL,
            return_url=return_url,
        )

    def successful_payment(self) -> str:
        paid = self._pay(amount="9.99", method="pm_card_visa", plan="basic-monthly")
        _say(
            f"pay 9.99 USD for basic-monthly with pm_card_visa -> {paid.status} "
            f"({paid.stripe_transaction_id})"
        )
        _expect(
            paid.status == "succeeded" and paid.subscription_id is not None,
            "the payment should succeed and start a subscription",
        )
        subscription = self.payments.get_subscription(paid.subscription_id)
        _say(
            f"subscription {subscription.id}: {subscription.status}, next billing "
            f"{subscription.next_billing_date:%Y-%m-%d}"
        )
        _expect(subscription.status == "active", "the subscription should be active")
        self.subscribed = paid.id
        return "payment succeeded, subscription active"

    def declined_payment(self) -> str:
        method = "pm_card_visa_chargeDeclinedInsufficientFunds"
        declined = self._pay(amount="20.00", method=method)
        _say(f"pay 20.00 USD with {method} -> {declined.status}")
        _expect(
            declined.status == "failed" and declined.error is not None,
            "the payment should fail with a reason",
        )
        assert declined.error is not None
        _say(f'message for the payer: "{declined.error.message}" [{declined.error.code}]')
        _expect(
            declined.error.code == "insufficient_funds", "the reason should be insufficient funds"
        )
        return declined.error.message

    def signed_webhook(self) -> str:
        if self.emulator is None:
            raise Skipped("completing 3-D Secure on real Stripe needs a person at the bank's page")
        user = str(uuid.uuid4())
        pending = self._pay(
            amount="29.00",
            method="pm_card_threeDSecure2Required",
            plan="pro-monthly",
            user=user,
            return_url=RETURN_URL,
        )
        _say(f"pay 29.00 USD for pro-monthly with a 3-D Secure card -> {pending.status}")
        _expect(
            pending.status == "requires_action" and not self.payments.list_subscriptions(user),
            "the payment should wait for authentication, with no subscription yet",
        )
        assert pending.stripe_transaction_id is not None
        self.emulator.authenticate(pending.stripe_transaction_id)
        _say("the payer completes 3-D Secure; Stripe emits payment_intent.succeeded")
        event = next(
            e
            for e in reversed(self.emulator.events("payment_intent.succeeded"))
            if e["data"]["object"]["id"] == pending.stripe_transaction_id
        )
        payload = json.dumps(event).encode()
        header = signature_header(payload, [self.secret], int(time.time()))
        received = self.payments.receive_webhook(payload, header)
        _say(f"signed webhook {event['id']} received: {received.status}")
        run = self.payments.process_webhooks()
        _say(f"worker processed {run.processed} event(s)")
        [subscription] = self.payments.list_subscriptions(user)
        _expect(
            self.payments.get_payment(pending.id).status == "succeeded"
            and subscription.status == "active",
            "the webhook should complete the payment and start the subscription",
        )
        _say(f"payment succeeded; subscription {subscription.id}: {subscription.status}")
        return "payment completed by webhook, subscription active"

    def full_refund(self) -> str:
        _expect(self.subscribed is not None, "needs the first scenario's payment")
        assert self.subscribed is not None
        refund = self.payments.refund(
            self.subscribed, actor=Actor.admin("quickstart"), reason="requested_by_customer"
        )
        _say(f"refund {refund.amount} of payment {self.subscribed} -> {refund.status}")
        payment = self.payments.get_payment(self.subscribed)
        assert payment.subscription_id is not None
        subscription = self.payments.get_subscription(payment.subscription_id)
        _say(f"payment {payment.status}; subscription {subscription.id}: {subscription.status}")
        queued = [n.kind for n in self.payments.list_notifications(recipient=EMAIL)]
        _say(f"emails queued for {EMAIL}: {', '.join(queued)}")
        _expect(
            payment.status == "refunded"
            and subscription.status == "cancelled"
            and "refund_confirmation" in queued,
            "the refund should cancel the subscription and queue its email",
        )
        return "refunded, subscription cancelled, email queued"


def _run(name: str, step: Callable[[], str]) -> Outcome:
    click.echo(click.style(name, bold=True))
    started = time.perf_counter()
    try:
        detail = step()
        result = "passed"
    except Skipped as reason:
        detail, result = str(reason), "skipped"
    except (ScenarioFailed, PaymentError) as problem:
        detail, result = str(problem), "FAILED"
    except Exception as bug:  # report it and go on with the other scenarios
        detail, result = f"{type(bug).__name__}: {bug}", "FAILED"
    outcome = Outcome(name, result, time.perf_counter() - started, detail)
    click.echo(f"  -> {result}\n")
    return outcome


LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")


def refuse_live_keys(settings: Settings) -> None:
    """ConfigurationError for a live-mode key: the quickstart makes payments and refunds."""
    key = settings.stripe_api_key
    if key is not None and key.get_secret_value().startswith(LIVE_KEY_PREFIXES):
        raise ConfigurationError(
            "PAYMENT_STRIPE_API_KEY: the quickstart makes real payments and refunds, so it "
            "refuses a live key (sk_live_/rk_live_): use a test-mode key (sk_test_...), or "
            "unset the variable to use the built-in emulator."
        )


def run_quickstart(settings: Settings, *, as_json: bool = False) -> bool:
    """Run the four scenarios; print each step and a table (with ``as_json``, one JSON object
    instead). True when none failed."""
    refuse_live_keys(settings)
    if not as_json:
        return _run_all(settings, as_json=False)[0]
    with contextlib.redirect_stdout(io.StringIO()):  # the steps' story is for people
        passed, report = _run_all(settings, as_json=True)
    click.echo(json.dumps(report))
    return passed


def _run_all(settings: Settings, *, as_json: bool) -> tuple[bool, dict[str, Any]]:
    started = time.perf_counter()
    webhook_secret = "whsec_quickstart_" + secrets.token_hex(16)
    settings = settings.model_copy(
        update={
            "webhook_secrets": (*settings.webhook_secrets, SecretStr(webhook_secret)),
        }
    )
    with _stripe(settings) as (settings, emulator), Payments.from_settings(settings) as payments:
        revision = payments.upgrade_database()
        payments.seed_demo_plans()
        where = f"in-process emulator at {emulator.url}" if emulator else "Stripe test mode"
        database = make_url(settings.database_url).render_as_string(hide_password=True)
        click.echo(f"database {database} (revision {revision}); stripe: {where}\n")
        quickstart = Quickstart(payments, emulator, webhook_secret)
        outcomes = [
            _run("[1/4] successful payment starts a subscription", quickstart.successful_payment),
            _run("[2/4] declined payment with its message", quickstart.declined_payment),
            _run("[3/4] signed webhook processed by the worker", quickstart.signed_webhook),
            _run("[4/4] full refund cancels the subscription", quickstart.full_refund),
        ]
    passed = sum(o.result == "passed" for o in outcomes)
    failed = sum(o.result == "FAILED" for o in outcomes)
    seconds = time.perf_counter() - started
    if as_json:
        report = {
            "database": database,
            "revision": revision,
            "stripe": where,
            "scenarios": [
                {
                    "name": o.name,
                    "result": o.result.lower(),
                    "seconds": round(o.seconds, 3),
                    "detail": o.detail,
                }
                for o in outcomes
            ],
            "passed": passed,
            "failed": failed,
            "skipped": len(outcomes) - passed - failed,
            "seconds": round(seconds, 3),
        }
        return failed == 0, report
    width = max(len(o.name) for o in outcomes)
    click.echo(f"{'scenario':<{width}}  result   seconds  detail")
    for o in outcomes:
        click.echo(f"{o.name:<{width}}  {o.result:<8} {o.seconds:>7.2f}  {o.detail}")
    skipped = f", {len(outcomes) - passed - failed} skipped" if passed + failed < 4 else ""
    click.echo(f"\n{passed} passed, {failed} failed{skipped} in {seconds:.1f} s")
    return failed == 0, {}
