"""A claimed batch of payment events is applied at once: the payments it touches read in one
locked SELECT, the changes written by a few set-based statements, whatever the batch's size,
with the end state applying each event in its own savepoint reaches. An event the batch cannot
take (a poison payload, a failing write) falls back to the per-event path, alone (both
databases; the statement count on PostgreSQL)."""

from __future__ import annotations

import random
import uuid

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs
from webhook_helpers import event_payload, settings, sign, smtp  # noqa: F401 (fixtures)

from payment_lib.db.tables import Payment, PaymentMethod
from payment_lib.services import webhooks

DECLINE = {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Declined."}
CARD = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}


def pending_payments(payments, tag: str, count: int) -> list[tuple[uuid.UUID, str]]:
    """``count`` plain pending payments (an email each); every third has no PaymentIntent id
    recorded yet (its events find it by the payment id in the metadata)."""
    rows = []
    for n in range(count):
        payment_id = uuid.uuid4()
        rows.append(
            {
                "id": payment_id,
                "user_id": uuid.uuid4(),
                "amount": 2000,
                "currency": "usd",
                "status": "pending",
                "kind": "payment",
                "idempotency_key": f"batch-{payment_id}",
                "request_fingerprint": "batch",
                "amount_refunded": 0,
                "customer_email": f"{tag}{n}@example.com",
                "details": {},
                "stripe_transaction_id": None if n % 3 == 2 else f"pi_{tag}x{n}",
            }
        )
    with payments.database.engine.begin() as connection:
        connection.execute(sa.insert(Payment), rows)
    return [(row["id"], f"pi_{tag}x{n}") for n, row in enumerate(rows)]


def intent(intent_id: str, payment_id: uuid.UUID, status: str, **fields) -> dict:
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": 2000,
        "currency": "usd",
        "status": status,
        "metadata": {"payment_id": str(payment_id)},
        **fields,
    }


def charge(intent_id: str, payment_id: uuid.UUID) -> dict:
    return {
        "id": f"ch_{intent_id[3:]}",
        "object": "charge",
        "payment_intent": intent_id,
        "status": "succeeded",
        "paid": True,
        "amount": 2000,
        "currency": "usd",
        "amount_refunded": 0,
        "payment_method": f"pm_{intent_id[3:]}",
        "payment_method_details": {"card": CARD},
        "metadata": {"payment_id": str(payment_id)},
    }


def mixed_events(tag: str, made: list[tuple[uuid.UUID, str]]) -> list[tuple[str, str, dict]]:
    """(event id, type, object) for each payment's story, with duplicates, an event about a
    payment we never made, a type we ignore and one poison event; shuffled."""
    events: list[tuple[str, dict]] = []
    for n, (payment_id, intent_id) in enumerate(made):
        story = n % 6
        if story == 0:  # succeeded, delivered twice under two ids
            events += [("payment_intent.succeeded", intent(intent_id, payment_id, "succeeded"))] * 2
        elif story == 1:  # declined
            failed = intent(intent_id, payment_id, "requires_payment_method")
            failed["last_payment_error"] = DECLINE
            events.append(("payment_intent.payment_failed", failed))
        elif story == 2:  # 3-D Secure, then paid (any order)
            action = {"redirect_to_url": {"url": "https://bank.example/3ds"}}
            events.append(
                (
                    "payment_intent.requires_action",
                    intent(intent_id, payment_id, "requires_action", next_action=action),
                )
            )
            events.append(("payment_intent.succeeded", intent(intent_id, payment_id, "succeeded")))
        elif story == 3:  # processing, then canceled
            events.append(
                ("payment_intent.processing", intent(intent_id, payment_id, "processing"))
            )
            events.append(("payment_intent.canceled", intent(intent_id, payment_id, "canceled")))
        elif story == 4:  # the charge (with its card) and its PaymentIntent
            events.append(("charge.succeeded", charge(intent_id, payment_id)))
            events.append(("payment_intent.succeeded", intent(intent_id, payment_id, "succeeded")))
        else:  # succeeded, and failed late (out of order: succeeded is final)
            failed = intent(intent_id, payment_id, "requires_payment_method")
            failed["last_payment_error"] = DECLINE
            events.append(("payment_intent.succeeded", intent(intent_id, payment_id, "succeeded")))
            events.append(("payment_intent.payment_failed", failed))
    stranger = intent(f"pi_{tag}stranger", uuid.uuid4(), "succeeded")
    events.append(("payment_intent.succeeded", stranger))
    events.append(("customer.created", {"id": f"cus_{tag}1", "object": "customer"}))
    # Poison: metadata that is not an object breaks the handler (after no PaymentIntent id matched)
    poison = {"id": f"pi_{tag}poison", "object": "payment_intent", "status": "succeeded"}
    events.append(("payment_intent.succeeded", {**poison, "metadata": "broken"}))
    ids = [f"evt_{tag}x{n}" for n in range(len(events))]
    ids[-1] = f"evt_{tag}poison"
    made_events = [(i, t, o) for i, (t, o) in zip(ids, events, strict=True)]
    random.Random(17).shuffle(made_events)
    return made_events


def receive_all(payments, events) -> None:
    for event_id, event_type, obj in events:
        payload = event_payload(event_type, obj, event_id)
        payments.receive_webhook(payload, sign(payload))
        if event_id.endswith("x0"):  # a duplicate delivery of one event
            payments.receive_webhook(payload, sign(payload))


def end_state(payments, tag: str, made) -> dict:
    """What the events did, by position (so two runs with different ids compare)."""
    position = {str(payment_id): n for n, (payment_id, _intent) in enumerate(made)}
    states = {}
    for n, (payment_id, _intent) in enumerate(made):
        info = payments.get_payment(payment_id)
        states[n] = (
            info.status,
            (info.stripe_transaction_id or "").replace(f"pi_{tag}", "pi_"),
            info.error,  # its code, message and retry_helps (kept in details)
            info.redirect_url,
        )
    with payments.database.engine.connect() as connection:
        emails = connection.execute(
            sa.text("SELECT kind, dedupe_key, recipient FROM notifications")
        ).all()
        cards = connection.execute(
            sa.text(
                "SELECT id, payment_method_id FROM payments WHERE payment_method_id IS NOT NULL"
            )
        ).all()
    sent = sorted(
        (kind, position[key.split(":", 1)[1]], recipient.removeprefix(tag))
        for kind, key, recipient in emails
        if key.split(":", 1)[1] in position
    )
    carded = (str(uuid.UUID(str(row[0]))) for row in cards)
    with_card = sorted(position[payment] for payment in carded if payment in position)
    events = sorted(
        (e.stripe_event_id.replace(tag, ""), e.status, e.attempts)
        for e in payments.list_webhook_events(limit=500)
        if e.stripe_event_id.startswith(f"evt_{tag}")
    )
    return {"payments": states, "emails": sent, "cards": with_card, "events": events}


def drain(payments) -> tuple[int, int, int]:
    report = payments.process_webhooks(limit=500)
    return (report.processed, report.retried, report.parked)


def test_a_mixed_shuffled_batch_ends_as_applying_each_event_alone(payments, monkeypatch):
    monkeypatch.setattr(webhooks, "BATCH_SECONDS", 600)  # however slow the machine is today
    at_once = pending_payments(payments, "a", 12)
    receive_all(payments, mixed_events("a", at_once))
    assert drain(payments) == (24, 1, 0)

    monkeypatch.setattr(webhooks, "APPLY_AT_ONCE", False)
    alone = pending_payments(payments, "b", 12)
    receive_all(payments, mixed_events("b", alone))
    assert drain(payments) == (24, 1, 0)

    batched, each = end_state(payments, "a", at_once), end_state(payments, "b", alone)
    assert batched == each
    assert batched["payments"][0][0] == "succeeded"
    assert batched["payments"][1][:2] == ("failed", "pi_x1")
    assert batched["payments"][1][2].code == "insufficient_funds"
    assert batched["payments"][2][0] == "succeeded"  # found by the id in its metadata
    assert batched["payments"][5][0] == "succeeded"  # a late failure never undoes it
    assert ("payment_confirmation", 0, "0@example.com") in batched["emails"]
    assert [e for e in batched["events"] if e[0] == "evt_poison"] == [("evt_poison", "pending", 1)]


def test_a_batch_that_fails_to_write_falls_back_to_one_event_at_a_time(payments, monkeypatch):
    monkeypatch.setattr(webhooks, "BATCH_SECONDS", 600)
    made = pending_payments(payments, "f", 5)
    refused = made[2][0]
    with payments.database.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(
                sa.text(
                    "CREATE TRIGGER poison BEFORE UPDATE ON payments "
                    f"WHEN NEW.id = '{refused.hex}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
                )
            )
        else:
            connection.execute(
                sa.text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'poisoned'; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                sa.text(
                    "CREATE TRIGGER poison BEFORE UPDATE ON payments FOR EACH ROW "
                    f"WHEN (NEW.id = '{refused}') EXECUTE FUNCTION refuse()"
                )
            )
    receive_all(
        payments,
        [
            (f"evt_f{n}", "payment_intent.succeeded", intent(i, p, "succeeded"))
            for n, (p, i) in enumerate(made)
        ],
    )

    assert drain(payments) == (4, 1, 0)

    statuses = [payments.get_payment(p).status for p, _intent in made]
    assert statuses == ["succeeded", "succeeded", "pending", "succeeded", "succeeded"]
    [left] = payments.list_webhook_events(unprocessed=True)
    assert (left.stripe_event_id, left.attempts) == ("evt_f2", 1)
    assert "poisoned" in (left.last_error or "")


@pytest.mark.postgresql_only
def test_a_batch_of_payment_events_takes_a_few_statements_whatever_its_size(payments, monkeypatch):
    monkeypatch.setattr(webhooks, "BATCH_SECONDS", 600)
    statements = []

    def count(*_args):
        statements.append(1)

    def run(tag: str, number: int) -> int:
        made = pending_payments(payments, tag, number)
        for n, (payment_id, intent_id) in enumerate(made):
            payload = event_payload(
                "payment_intent.succeeded",
                intent(intent_id, payment_id, "succeeded"),
                f"evt_{tag}x{n}",
            )
            payments.receive_webhook(payload, sign(payload))
        statements.clear()
        sa.event.listen(payments.database.engine, "before_cursor_execute", count)
        try:
            report = payments.process_webhooks(limit=number)
        finally:
            sa.event.remove(payments.database.engine, "before_cursor_execute", count)
        assert report.processed == number
        return len(statements)

    few, many = run("s", 5), run("m", webhooks.EVENTS_AT_ONCE)

    assert many == few
    assert many <= 10
    with payments.database.engine.connect() as connection:
        sent = connection.execute(sa.text("SELECT count(*) FROM notifications")).scalar_one()
    assert sent == 5 + webhooks.EVENTS_AT_ONCE


def test_a_batch_logs_one_line_and_each_event_at_debug(payments):
    made = pending_payments(payments, "l", 3)
    receive_all(
        payments,
        [
            (f"evt_l{n}", "payment_intent.succeeded", intent(i, p, "succeeded"))
            for n, (p, i) in enumerate(made)
        ],
    )

    with capture_logs() as logs:
        drain(payments)

    [line] = [e for e in logs if e["log_level"] != "debug"]
    assert (line["event"], line["processed"]) == ("webhook batch applied", 3)
    debug = [e for e in logs if e["log_level"] == "debug" and e["event"] == "webhook processed"]
    assert sorted(e["stripe_event_id"] for e in debug) == ["evt_l0", "evt_l1", "evt_l2"]


def test_a_late_charge_about_a_paid_payment_whose_card_is_known_is_applied_at_once(payments):
    made = pending_payments(payments, "k", 2)
    methods = []
    with payments.database.engine.begin() as connection:
        for payment_id, intent_id in made:  # paid, its card recorded (as the request path does)
            methods.append(uuid.uuid4())
            connection.execute(
                sa.insert(PaymentMethod).values(
                    id=methods[-1],
                    user_id=uuid.uuid4(),
                    stripe_payment_method_id=f"pm_{intent_id[3:]}",
                    card_brand="visa",
                    last4="4242",
                    exp_month=12,
                    exp_year=2030,
                )
            )
            connection.execute(
                sa.update(Payment)
                .where(Payment.id == payment_id)
                .values(status="succeeded", payment_method_id=methods[-1])
            )
    receive_all(
        payments,
        [(f"evt_k{n}", "charge.succeeded", charge(i, p)) for n, (p, i) in enumerate(made)],
    )

    with capture_logs() as logs:
        assert drain(payments) == (2, 0, 0)

    [line] = [e for e in logs if e["event"] == "webhook batch applied"]
    assert line["at_once"] == 2  # the card changes nothing: no per-event savepoint
    with payments.database.engine.connect() as connection:
        kept = connection.execute(
            sa.select(Payment.status, Payment.payment_method_id)
            .where(Payment.id.in_([p for p, _intent in made]))
            .order_by(Payment.payment_method_id)
        ).all()
    assert [tuple(row) for row in kept] == [("succeeded", m) for m in sorted(methods)]


def test_a_charge_bringing_a_new_card_is_applied_at_once_and_keeps_the_card(payments):
    made = pending_payments(payments, "c", 2)
    receive_all(
        payments,
        [(f"evt_c{n}", "charge.succeeded", charge(i, p)) for n, (p, i) in enumerate(made)],
    )

    with capture_logs() as logs:
        assert drain(payments) == (2, 0, 0)

    [line] = [e for e in logs if e["event"] == "webhook batch applied"]
    assert line["at_once"] == 2
    with payments.database.engine.connect() as connection:
        cards = connection.execute(
            sa.select(Payment.status, PaymentMethod.stripe_payment_method_id, PaymentMethod.last4)
            .join(PaymentMethod, Payment.payment_method_id == PaymentMethod.id)
            .where(Payment.id.in_([p for p, _intent in made]))
            .order_by(PaymentMethod.stripe_payment_method_id)
        ).all()
    expected = sorted(("succeeded", f"pm_{intent[3:]}", "4242") for _p, intent in made)
    assert [tuple(row) for row in cards] == expected
