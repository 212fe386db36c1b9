"""SQL injection (docs/security.md): every statement is built by SQLAlchemy with bound
parameters, so text that is SQL is stored as text and a lookup by it finds nothing; no table
is harmed. On SQLite and PostgreSQL."""

import uuid

import pytest

from payment_lib import InvalidRequest, NotFound

INJECTIONS = [
    "'; DROP TABLE payments; --",
    "x' OR '1'='1",
    '"); DELETE FROM refunds; --',
    "1; UPDATE payments SET amount = 0",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_text_that_is_sql_is_stored_verbatim_and_harms_nothing(payments, text):
    paid = payments.pay(user_id=str(uuid.uuid4()), amount="20.00", currency="usd",
                        payment_method="pm_card_visa", idempotency_key=text,
                        description=text, metadata={"note": text})

    assert payments.get_payment(paid.id).status == "succeeded"
    with payments.database.unit_of_work() as uow:
        stored = uow.payments.by_idempotency_key(text)
        assert stored is not None
        assert (stored.description, stored.amount) == (text, 2000)
    assert payments.list_notifications(recipient=text) == []
    with pytest.raises(NotFound):
        payments.get_dispute(text)
    with pytest.raises((InvalidRequest, NotFound)):
        payments.replay_webhook(text)
    assert len(payments.list_payments(paid.to_dict()["user_id"])) == 1
