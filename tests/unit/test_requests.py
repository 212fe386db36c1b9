"""The request types: exported, and the facade's keyword arguments are theirs, defined once."""

import inspect
import typing

import payment_lib
from payment_lib import PayFields, PaymentRequest, Payments, RefundFields, RefundRequest
from payment_lib.services.payment_requests import validate_payment_request
from payment_lib.services.refunds import validate_refund_request


def test_the_request_types_are_public():
    for name in ("PaymentRequest", "RefundRequest", "PayFields", "RefundFields"):
        assert name in payment_lib.__all__


def test_the_facade_takes_the_fields_its_validators_take():
    assert set(typing.get_type_hints(PayFields)) == set(
        inspect.signature(validate_payment_request).parameters
    )
    refund_params = set(inspect.signature(validate_refund_request).parameters)
    assert set(typing.get_type_hints(RefundFields)) == refund_params - {"payment_id", "actor"}
    for method, fields in ((Payments.pay, PayFields), (Payments.refund, RefundFields)):
        [kwargs] = [
            p for p in inspect.signature(method).parameters.values() if p.kind is p.VAR_KEYWORD
        ]
        assert typing.get_args(kwargs.annotation) == (fields,) or fields.__name__ in str(
            kwargs.annotation
        )


def test_a_request_is_built_from_its_fields():
    request = PaymentRequest.build(
        user_id="3f2b6e9a-1c7d-4e5f-8a9b-0c1d2e3f4a5b",
        amount="20.00",
        currency="usd",
        payment_method="pm_card_visa",
        idempotency_key="order-1",
    )
    assert (request.money.minor, request.money.currency) == (2000, "usd")
    assert RefundRequest.__dataclass_fields__.keys() >= {"payment_id", "actor", "amount"}
