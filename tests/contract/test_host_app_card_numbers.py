"""The example host application refuses card numbers with payment_lib's detector (issue 15):
in any body field, path segment, query or header the library reads; never echoed; server log
lines scrubbed."""

import logging
import uuid

import pytest
from conftest import ADA
from test_host_app_contract import payment_body as body

from docs.examples.host_app import RedactCardNumbers
from payment_lib import contains_card_number

CARD = "4945.8073.0215.7365"


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"gift_message": f"my card {CARD}"}, "gift_message"),  # a field the app ignores
        ({"description": CARD}, "description"),
        ({"payment_method_id": "pm_4242424242424242"}, "payment_method_id"),
        ({"idempotency_key": CARD}, "idempotency_key"),
    ],
)
def test_a_card_number_in_any_body_field_is_a_400_naming_the_field(host_app, changes, param):
    response = host_app.request("POST", "/api/v1/payments", body(**changes))
    assert response.status == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_request", param)
    assert not contains_card_number(response.body.decode())


@pytest.mark.parametrize(
    ("method", "path", "param"),
    [
        ("GET", "/api/v1/payments/4242-4242-4242-4242", "payment_id"),
        ("PATCH", "/api/v1/subscriptions/4242-4242-4242-4242", "subscription_id"),
        ("GET", "/api/v1/payments?cursor=4242-4242-4242-4242", "cursor"),
    ],
)
def test_a_card_number_in_a_path_or_query_is_a_400_and_not_echoed(host_app, method, path, param):
    response = host_app.request(method, path, {"status": "cancelled"})
    assert response.status == 400
    assert response.json()["error"]["param"] == param
    assert not contains_card_number(response.body.decode())


def test_a_card_number_as_the_token_is_a_401_and_not_echoed(host_app):
    response = host_app.request("GET", "/api/v1/payments", token=CARD)
    assert response.status == 401
    assert not contains_card_number(response.body.decode())


def test_a_card_number_in_the_idempotency_key_header_is_a_400(host_app):
    response = host_app.request(
        "POST",
        "/api/v1/refunds",
        {"payment_id": str(uuid.uuid4())},
        headers={"Idempotency-Key": CARD},
        token=ADA,
    )
    assert response.status == 400
    assert not contains_card_number(response.body.decode())


def test_server_log_lines_are_scrubbed_of_card_numbers():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/api/v1/payments/{CARD}", "1.1", 400),
        None,
    )
    assert RedactCardNumbers().filter(record)
    assert record.getMessage() == (
        '127.0.0.1:5000 - "GET /api/v1/payments/[REDACTED] HTTP/1.1" 400'
    )
