"""The emails the library sends: a subject, a plain-text body and an HTML body per kind.

``string.Template`` from the standard library: the texts are short and fixed, so a template
engine (and its dependency) would add nothing. Values come from the notification's payload;
in HTML every value is escaped; a value the payload lacks renders as empty text.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from string import Template


@dataclass(frozen=True)
class EmailTemplate:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


_SIGNATURE = "\n\nIf you have a question, reply to this email.\n"

KINDS: dict[str, EmailTemplate] = {
    "payment_confirmation": EmailTemplate(
        subject="Payment received: $amount $currency",
        text="Hello,\n\nwe received your payment of $amount $currency. Thank you!\n\n"
        "Payment reference: $payment_id",
        html="<p>Hello,</p><p>we received your payment of <strong>$amount $currency</strong>. "
        "Thank you!</p><p>Payment reference: $payment_id</p>",
    ),
    "payment_failure": EmailTemplate(
        subject="Your payment of $amount $currency did not go through",
        text="Hello,\n\nyour payment of $amount $currency was declined: $failure_message\n\n"
        "No money was taken. You can try again, with another card if need be.\n\n"
        "Payment reference: $payment_id",
        html="<p>Hello,</p><p>your payment of <strong>$amount $currency</strong> was declined: "
        "$failure_message</p><p>No money was taken. You can try again, with another card if "
        "need be.</p><p>Payment reference: $payment_id</p>",
    ),
    "action_required": EmailTemplate(
        subject="Action required: confirm your payment of $amount $currency",
        text="Hello,\n\nyour bank asks you to confirm your payment of $amount $currency.\n"
        "Open this link to confirm it: $redirect_url\n\n"
        "Until you do, nothing is charged.",
        html="<p>Hello,</p><p>your bank asks you to confirm your payment of "
        '<strong>$amount $currency</strong>.</p><p><a href="$redirect_url">Confirm the '
        "payment</a></p><p>Until you do, nothing is charged.</p>",
    ),
    "renewal": EmailTemplate(
        subject="Your $plan_id subscription is renewed",
        text="Hello,\n\nwe charged $amount $currency to renew your $plan_id subscription. "
        "Thank you for staying with us!\n\nPayment reference: $payment_id",
        html="<p>Hello,</p><p>we charged <strong>$amount $currency</strong> to renew your "
        "$plan_id subscription. Thank you for staying with us!</p>"
        "<p>Payment reference: $payment_id</p>",
    ),
    "past_due": EmailTemplate(
        subject="Your $plan_id subscription is past due",
        text="Hello,\n\nwe could not charge $amount $currency to renew your $plan_id "
        "subscription: the payment was declined ($failure_message).\n\n"
        "We will try again in a few days. To keep your subscription, please check or "
        "update your card.",
        html="<p>Hello,</p><p>we could not charge <strong>$amount $currency</strong> to renew "
        "your $plan_id subscription: the payment was declined ($failure_message).</p>"
        "<p>We will try again in a few days. To keep your subscription, please check or "
        "update your card.</p>",
    ),
    "expiry": EmailTemplate(
        subject="Your $plan_id subscription has ended",
        text="Hello,\n\nyour $plan_id subscription has ended because its renewal could not "
        "be charged. You can subscribe again at any time.",
        html="<p>Hello,</p><p>your $plan_id subscription has ended because its renewal could "
        "not be charged. You can subscribe again at any time.</p>",
    ),
    "trial_ending": EmailTemplate(
        subject="Your $plan_id trial ends on $trial_ends_on",
        text="Hello,\n\nyour $plan_id trial ends on $trial_ends_on. $next_step\n\n"
        "Subscription reference: $subscription_id",
        html="<p>Hello,</p><p>your $plan_id trial ends on <strong>$trial_ends_on</strong>. "
        "$next_step</p><p>Subscription reference: $subscription_id</p>",
    ),
    "trial_ended": EmailTemplate(
        subject="Your $plan_id trial has ended",
        text="Hello,\n\nyour $plan_id trial has ended. No card was saved, so nothing was "
        "charged. You can subscribe at any time.",
        html="<p>Hello,</p><p>your $plan_id trial has ended. No card was saved, so nothing "
        "was charged. You can subscribe at any time.</p>",
    ),
    "refund_confirmation": EmailTemplate(
        subject="Refund of $amount $currency",
        text="Hello,\n\nwe refunded $amount $currency of your payment $payment_id "
        "($amount_refunded $currency refunded in all). It can take 5 to 10 days to show on "
        "your statement.",
        html="<p>Hello,</p><p>we refunded <strong>$amount $currency</strong> of your payment "
        "$payment_id ($amount_refunded $currency refunded in all). It can take 5 to 10 days "
        "to show on your statement.</p>",
    ),
    "refund_failed": EmailTemplate(
        subject="Your refund of $amount $currency could not be completed",
        text="Hello,\n\nthe refund of $amount $currency for your payment $payment_id could "
        "not be completed by the card network, so the money was not returned to your card. "
        "We will contact you to refund it another way.",
        html="<p>Hello,</p><p>the refund of <strong>$amount $currency</strong> for your "
        "payment $payment_id could not be completed by the card network, so the money was not "
        "returned to your card. We will contact you to refund it another way.</p>",
    ),
    "plan_changed": EmailTemplate(
        subject="Your subscription changes to $to_plan_id",
        text="Hello,\n\nyour $from_plan_id subscription changes to $to_plan_id ($amount "
        "$currency per period) on $effective_at.\nCharged now: $charged $currency. Your credit "
        "for the next renewals: $credit $currency.\n\nSubscription reference: $subscription_id",
        html="<p>Hello,</p><p>your $from_plan_id subscription changes to "
        "<strong>$to_plan_id</strong> ($amount $currency per period) on $effective_at.</p>"
        "<p>Charged now: $charged $currency. Your credit for the next renewals: $credit "
        "$currency.</p><p>Subscription reference: $subscription_id</p>",
    ),
    "subscription_paused": EmailTemplate(
        subject="Your $plan_id subscription is paused",
        text="Hello,\n\nyour $plan_id subscription is paused from $paused_at $until. Nothing "
        "is charged while it is paused, and the time it stays paused is added to your current "
        "period.",
        html="<p>Hello,</p><p>your $plan_id subscription is paused from $paused_at $until. "
        "Nothing is charged while it is paused, and the time it stays paused is added to your "
        "current period.</p>",
    ),
    "subscription_resumed": EmailTemplate(
        subject="Your $plan_id subscription is running again",
        text="Hello,\n\nyour $plan_id subscription is running again. Its next renewal is on "
        "$next_billing_date.",
        html="<p>Hello,</p><p>your $plan_id subscription is running again. Its next renewal "
        "is on <strong>$next_billing_date</strong>.</p>",
    ),
    "card_expiring": EmailTemplate(
        subject="Your $brand card ending in $last4 expires soon",
        text="Hello,\n\nyour $brand card ending in $last4, which pays for your subscription, "
        "expires at the end of $expires. To keep your subscription running, please add a new "
        "card before then.",
        html="<p>Hello,</p><p>your $brand card ending in $last4, which pays for your "
        "subscription, expires at the end of <strong>$expires</strong>. To keep your "
        "subscription running, please add a new card before then.</p>",
    ),
    # To the shop's admin_email, not to a customer.
    "dispute_opened": EmailTemplate(
        subject="Dispute opened: $amount $currency ($reason)",
        text="A payment is disputed: $amount $currency, reason: $reason (status $status).\n\n"
        "Payment: $payment_id\nStripe dispute: $stripe_dispute_id (charge $stripe_charge_id)\n"
        "Evidence due by: $evidence_due_by\n\n"
        "Respond in Stripe's Dashboard before the deadline, or the dispute is lost.",
        html="<p>A payment is disputed: <strong>$amount $currency</strong>, reason: $reason "
        "(status $status).</p><p>Payment: $payment_id<br>Stripe dispute: $stripe_dispute_id "
        "(charge $stripe_charge_id)<br>Evidence due by: <strong>$evidence_due_by</strong></p>"
        "<p>Respond in Stripe's Dashboard before the deadline, or the dispute is lost.</p>",
    ),
}

_PAGE = Template(
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>$title</title></head>\n'
    '<body style="font-family: sans-serif">$body</body></html>\n'
)


class _Values(dict[str, str]):
    """Payload values as text; a missing one is empty rather than a stray ``$name``."""

    def __missing__(self, key: str) -> str:
        return ""


def render(kind: str, payload: Mapping[str, object]) -> RenderedEmail:
    """The email for a notification of ``kind``.

    Raises:
        KeyError: no template for ``kind``.
    """
    template = KINDS[kind]
    values = _Values({key: "" if value is None else str(value) for key, value in payload.items()})
    values["currency"] = values["currency"].upper()
    escaped = _Values({key: html.escape(value) for key, value in values.items()})
    subject = Template(template.subject).substitute(values)
    return RenderedEmail(
        subject=subject,
        text=Template(template.text).substitute(values) + _SIGNATURE,
        html=_PAGE.substitute(
            title=html.escape(subject), body=Template(template.html).substitute(escaped)
        ),
    )
