"""Payment and subscription state machines: allowed transitions are data."""

import itertools

import pytest

from payment_lib.domain.errors import IllegalTransition
from payment_lib.domain.states import (
    PAYMENT_TRANSITIONS,
    SUBSCRIPTION_TRANSITIONS,
    PaymentStatus,
    SubscriptionStatus,
    check_payment_transition,
    check_refund_reversal,
    check_subscription_transition,
)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (PaymentStatus.PENDING, PaymentStatus.SUCCEEDED),
        (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION),
        (PaymentStatus.PENDING, PaymentStatus.FAILED),
        (PaymentStatus.REQUIRES_ACTION, PaymentStatus.SUCCEEDED),
        (PaymentStatus.REQUIRES_ACTION, PaymentStatus.FAILED),
        (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED),
        (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED),
        (PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED),
    ],
)
def test_allowed_payment_transitions_pass(current, target):
    check_payment_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED),
        (PaymentStatus.FAILED, PaymentStatus.SUCCEEDED),
        (PaymentStatus.REFUNDED, PaymentStatus.SUCCEEDED),
        (PaymentStatus.PENDING, PaymentStatus.REFUNDED),
    ],
)
def test_illegal_payment_transitions_raise(current, target):
    with pytest.raises(IllegalTransition) as caught:
        check_payment_transition(current, target)
    assert current.value in caught.value.message and target.value in caught.value.message


def test_subscription_lifecycle_of_the_seed_is_allowed():
    path = [
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.PAST_DUE,
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.PAST_DUE,
        SubscriptionStatus.EXPIRED,
    ]
    for current, target in itertools.pairwise(path):
        check_subscription_transition(current, target)


@pytest.mark.parametrize("terminal", [SubscriptionStatus.CANCELLED, SubscriptionStatus.EXPIRED])
def test_ended_subscriptions_never_come_back(terminal):
    assert SUBSCRIPTION_TRANSITIONS[terminal] == frozenset()
    with pytest.raises(IllegalTransition):
        check_subscription_transition(terminal, SubscriptionStatus.ACTIVE)


def test_every_status_has_a_row_in_its_table():
    assert set(PAYMENT_TRANSITIONS) == set(PaymentStatus)
    assert set(SUBSCRIPTION_TRANSITIONS) == set(SubscriptionStatus)


def test_only_a_failed_refund_leads_out_of_refunded_and_only_back_to_paid_states():
    check_refund_reversal(PaymentStatus.REFUNDED, PaymentStatus.SUCCEEDED)
    check_refund_reversal(PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.SUCCEEDED)
    with pytest.raises(IllegalTransition):
        check_refund_reversal(PaymentStatus.REFUNDED, PaymentStatus.FAILED)
    with pytest.raises(IllegalTransition):
        check_refund_reversal(PaymentStatus.SUCCEEDED, PaymentStatus.SUCCEEDED)
    assert PAYMENT_TRANSITIONS[PaymentStatus.REFUNDED] == frozenset()


def test_refund_and_notification_lifecycles_are_tables_too():
    from payment_lib.domain.states import (
        NOTIFICATION_TRANSITIONS,
        REFUND_TRANSITIONS,
        NotificationStatus,
        RefundStatus,
        check_notification_transition,
        check_refund_transition,
    )

    assert set(REFUND_TRANSITIONS) == set(RefundStatus)
    assert set(NOTIFICATION_TRANSITIONS) == set(NotificationStatus)
    # A refund Stripe answered succeeded may still fail later (refund.failed); failed is final.
    for current, target in [
        ("pending", "succeeded"),
        ("pending", "failed"),
        ("succeeded", "failed"),
    ]:
        check_refund_transition(RefundStatus(current), RefundStatus(target))
    for current, target in [
        ("failed", "succeeded"),
        ("succeeded", "pending"),
        ("failed", "pending"),
    ]:
        with pytest.raises(IllegalTransition):
            check_refund_transition(RefundStatus(current), RefundStatus(target))
    # An email is leased while it is sent; a lease that ended sends it again (at least once).
    path = ["pending", "sending", "pending", "sending", "sent"]
    for current, target in itertools.pairwise(path):
        check_notification_transition(NotificationStatus(current), NotificationStatus(target))
    with pytest.raises(IllegalTransition):
        check_notification_transition(NotificationStatus.SENT, NotificationStatus.SENDING)
    check_notification_transition(NotificationStatus.FAILED, NotificationStatus.PENDING)  # resend
