"""Pause and resume: no renewals while paused, the billing anchor moves by the paused time, a
resume charges only when a period starts (once), one email per pause and per resume."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from subscription_helpers import EMAIL, subscribe

from payment_lib import IllegalTransition, InvalidRequest, NotFound
from payment_lib.domain.billing import billing_date

DAY = dt.timedelta(days=1)


def at(payments, moment):
    payments.clock = lambda: moment


def emails(payments, kind):
    with payments.database.engine.connect() as connection:
        query = sa.text("SELECT dedupe_key FROM notifications WHERE kind = :kind")
        return [row[0] for row in connection.execute(query, {"kind": kind})]


def test_a_paused_subscription_is_not_renewed(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    due = subscription.next_billing_date
    at(payments, due - 5 * DAY)

    paused = payments.pause_subscription(subscription.id)

    assert paused.status == "paused"
    assert paused.paused_at == due - 5 * DAY and paused.pause_until is None
    report = payments.run_billing(now=due + 40 * DAY)
    assert report.charged == [] and report.resumed == []
    assert payments.get_subscription(subscription.id).status == "paused"
    assert len(payments.list_payments(user_id)) == 1


def test_a_pause_until_a_date_resumes_then_and_moves_the_anchor_by_the_paused_time(
    payments, plan, user_id
):
    subscription = subscribe(payments, user_id)
    start = subscription.start_date
    paused_at, until = start + 10 * DAY, start + 50 * DAY
    at(payments, paused_at)
    payments.pause_subscription(subscription.id, until=until)

    early = payments.run_billing(now=until - dt.timedelta(seconds=1))
    assert (early.charged, early.resumed) == ([], [])
    assert payments.get_subscription(subscription.id).status == "paused"

    # The worker comes late: the paused time still ends at pause_until.
    report = payments.run_billing(now=until + dt.timedelta(hours=3))

    assert report.resumed == [subscription.id] and report.charged == []
    resumed = payments.get_subscription(subscription.id)
    assert resumed.status == "active"
    assert (resumed.paused_at, resumed.pause_until) == (None, None)
    assert resumed.start_date == start + 40 * DAY
    assert resumed.next_billing_date == billing_date(start + 40 * DAY, "month", 1, 1)
    assert payments.run_billing(now=until + DAY).resumed == []
    assert len(payments.list_payments(user_id)) == 1


def test_renewals_after_a_resume_follow_the_moved_anchor(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    start = subscription.start_date
    at(payments, start + DAY)
    payments.pause_subscription(subscription.id)
    at(payments, start + 4 * DAY)
    payments.resume_subscription(subscription.id)
    anchor = start + 3 * DAY

    first = payments.run_billing(now=billing_date(anchor, "month", 1, 1))

    assert [c.status for c in first.charged] == ["succeeded"]
    renewed = payments.get_subscription(subscription.id)
    assert renewed.next_billing_date == billing_date(anchor, "month", 1, 2)


def test_a_resume_that_starts_a_period_charges_it_once(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    due = subscription.next_billing_date
    at(payments, due + 5 * DAY)  # due, but no billing run came before the pause
    payments.pause_subscription(subscription.id)
    at(payments, due + 15 * DAY)

    resumed = payments.resume_subscription(subscription.id)

    assert resumed.charged is not None and resumed.charged.status == "succeeded"
    assert resumed.subscription.status == "active"
    assert resumed.subscription.next_billing_date > due + 15 * DAY
    again = payments.run_billing(now=due + 15 * DAY)
    assert again.charged == []
    with pytest.raises(IllegalTransition):
        payments.resume_subscription(subscription.id)
    assert len(payments.list_payments(user_id)) == 2


def test_an_automatic_resume_that_starts_a_period_charges_it_once(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    due = subscription.next_billing_date
    at(payments, due + DAY)
    payments.pause_subscription(subscription.id, until=due + 11 * DAY)

    first = payments.run_billing(now=due + 20 * DAY)
    second = payments.run_billing(now=due + 20 * DAY)

    assert first.resumed == [subscription.id]
    assert [c.status for c in first.charged] == ["succeeded"]
    assert (second.resumed, second.charged) == ([], [])
    assert len(payments.list_payments(user_id)) == 2


def test_a_resume_before_the_period_ends_charges_nothing(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    start = subscription.start_date
    at(payments, start + DAY)
    payments.pause_subscription(subscription.id)
    at(payments, start + 6 * DAY)

    resumed = payments.resume_subscription(subscription.id)

    assert resumed.charged is None and resumed.charge_error is None
    assert resumed.subscription.status == "active"
    assert resumed.subscription.next_billing_date == billing_date(start + 5 * DAY, "month", 1, 1)
    assert len(payments.list_payments(user_id)) == 1


@pytest.mark.parametrize(
    "until",
    [
        "past",
        "now",
        "naive",
        "2027-01-01",
        12,
    ],
)
def test_a_pause_until_a_bad_date_is_refused_and_changes_nothing(payments, plan, user_id, until):
    subscription = subscribe(payments, user_id)
    now = subscription.start_date + DAY
    at(payments, now)
    given = {
        "past": now - dt.timedelta(seconds=1),
        "now": now,
        "naive": (now + DAY).replace(tzinfo=None),
    }.get(until, until)

    with pytest.raises(InvalidRequest) as refused:
        payments.pause_subscription(subscription.id, until=given)

    assert refused.value.param == "until"
    assert payments.get_subscription(subscription.id) == subscription
    assert emails(payments, "subscription_paused") == []


def test_only_an_active_subscription_can_be_paused(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    payments.pause_subscription(subscription.id)
    paused = payments.get_subscription(subscription.id)
    with pytest.raises(IllegalTransition):
        payments.pause_subscription(subscription.id)
    assert payments.get_subscription(subscription.id) == paused
    with pytest.raises(NotFound):
        payments.pause_subscription(str(uuid.uuid4()))


def test_a_past_due_subscription_cannot_be_paused(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    payments.change_payment_method(subscription.id, "pm_card_chargeCustomerFail")
    payments.run_billing(now=subscription.next_billing_date)
    past_due = payments.get_subscription(subscription.id)
    assert past_due.status == "past_due"

    with pytest.raises(InvalidRequest, match="past due"):
        payments.pause_subscription(subscription.id)

    assert payments.get_subscription(subscription.id) == past_due


def test_a_subscription_ending_at_its_period_end_cannot_be_paused(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    ending = payments.cancel_subscription(subscription.id, at_period_end=True)
    with pytest.raises(InvalidRequest, match="period"):
        payments.pause_subscription(subscription.id)
    assert payments.get_subscription(subscription.id) == ending


def test_resuming_an_active_subscription_is_refused(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    with pytest.raises(IllegalTransition):
        payments.resume_subscription(subscription.id)
    assert payments.get_subscription(subscription.id) == subscription


def test_a_paused_subscription_can_be_cancelled_and_is_never_resumed(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    until = subscription.start_date + 10 * DAY
    at(payments, subscription.start_date + DAY)
    payments.pause_subscription(subscription.id, until=until)

    cancelled = payments.cancel_subscription(subscription.id)

    assert cancelled.status == "cancelled"
    report = payments.run_billing(now=until + 40 * DAY)
    assert (report.resumed, report.charged) == ([], [])
    assert payments.get_subscription(subscription.id).status == "cancelled"
    assert emails(payments, "subscription_resumed") == []


def test_each_pause_and_each_resume_sends_one_email(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    start = subscription.start_date
    at(payments, start + DAY)
    payments.pause_subscription(subscription.id)
    at(payments, start + 2 * DAY)
    payments.resume_subscription(subscription.id)
    at(payments, start + 3 * DAY)
    payments.pause_subscription(subscription.id, until=start + 5 * DAY)
    payments.run_billing(now=start + 6 * DAY)
    payments.run_billing(now=start + 6 * DAY)

    assert len(emails(payments, "subscription_paused")) == 2
    assert len(emails(payments, "subscription_resumed")) == 2
    [first, *_] = payments.list_notifications(EMAIL)
    assert first.kind == "payment_confirmation"


def test_a_dry_run_plans_a_resume_and_changes_nothing(payments, plan, user_id):
    subscription = subscribe(payments, user_id)
    until = subscription.start_date + 10 * DAY
    at(payments, subscription.start_date + DAY)
    payments.pause_subscription(subscription.id, until=until)
    paused = payments.get_subscription(subscription.id)

    report = payments.run_billing(now=until + DAY, dry_run=True)

    assert [p["action"] for p in report.planned] == ["resume"]
    assert report.resumed == []
    assert payments.get_subscription(subscription.id) == paused


def test_a_resume_whose_period_is_declined_makes_the_subscription_past_due(
    payments, plan, user_id
):
    subscription = subscribe(payments, user_id)
    due = subscription.next_billing_date
    payments.change_payment_method(subscription.id, "pm_card_chargeCustomerFail")
    at(payments, due + DAY)
    payments.pause_subscription(subscription.id)
    at(payments, due + 11 * DAY)

    resumed = payments.resume_subscription(subscription.id)

    assert resumed.charged is not None and resumed.charged.status == "failed"
    assert resumed.subscription.status == "past_due"
    assert len(emails(payments, "past_due")) == 1


def test_a_subscription_cancelled_at_its_period_end_while_paused_ends_at_the_moved_end(
    payments, plan, user_id
):
    subscription = subscribe(payments, user_id)
    start = subscription.start_date
    at(payments, start + DAY)
    payments.pause_subscription(subscription.id, until=start + 11 * DAY)
    payments.cancel_subscription(subscription.id, at_period_end=True)

    payments.run_billing(now=start + 12 * DAY)

    resumed = payments.get_subscription(subscription.id)
    assert resumed.status == "active" and resumed.cancel_at_period_end
    assert resumed.end_date == resumed.next_billing_date
    assert resumed.next_billing_date == billing_date(start + 10 * DAY, "month", 1, 1)
    report = payments.run_billing(now=resumed.end_date)
    assert report.charged == [] and report.ended == [subscription.id]


def test_a_subscription_whose_renewal_is_still_being_charged_cannot_be_paused(
    payments, plan, user_id
):
    subscription = subscribe(payments, user_id)
    with payments.database.engine.begin() as connection:  # a renewal whose answer was lost
        connection.execute(
            sa.text("UPDATE payments SET status = 'pending', subscription_id = :s"),
            {"s": subscription.id if payments.database.engine.dialect.name == "postgresql"
             else subscription.id.hex},
        )

    with pytest.raises(InvalidRequest, match="being charged"):
        payments.pause_subscription(subscription.id)

    assert payments.get_subscription(subscription.id).status == "active"


@pytest.mark.postgresql_only
def test_two_billing_runs_at_once_resume_and_charge_once(payments, plan, user_id, settings):
    import threading

    subscription = subscribe(payments, user_id)
    due = subscription.next_billing_date
    at(payments, due + DAY)
    payments.pause_subscription(subscription.id, until=due + 11 * DAY)
    reports = []
    barrier = threading.Barrier(2)

    def run():
        barrier.wait()
        reports.append(payments.run_billing(now=due + 20 * DAY))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(len(r.resumed) for r in reports) == [0, 1]
    # Both runs may report the renewal (the second reaches the first's payment by its key).
    assert len({c.id for r in reports for c in r.charged}) == 1
    assert len(payments.list_payments(user_id)) == 2
    assert len(emails(payments, "subscription_resumed")) == 1
