"""Idempotency keys: replay, parameter mismatch, concurrent use, validation failures not stored,
expiry."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import stripe
from emulator_helpers import http_call, pay

from payment_lib.testing import StripeEmulator


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


def test_the_same_key_and_parameters_return_the_first_payment_intent(
    client: stripe.StripeClient,
) -> None:
    key = new_key()
    first = pay(client, key=key)

    second = pay(client, key=key)

    assert second.id == first.id


def test_a_replayed_response_says_so_in_its_headers(client: stripe.StripeClient) -> None:
    key = new_key()
    pay(client, key=key)

    second = pay(client, key=key)

    assert second.last_response.headers.get("Idempotent-Replayed") == "true"  # type: ignore[union-attr]


def test_a_first_response_is_not_marked_replayed(client: stripe.StripeClient) -> None:
    first = pay(client, key=new_key())

    assert "Idempotent-Replayed" not in first.last_response.headers  # type: ignore[union-attr]


@pytest.mark.emulator_only
def test_a_replay_does_not_charge_again(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    key = new_key()
    pay(client, key=key)
    pay(client, key=key)

    assert stripe_emulator.count("charge") == 1


def test_a_replayed_decline_is_the_same_decline(client: stripe.StripeClient) -> None:
    key = new_key()
    with pytest.raises(stripe.CardError) as first:
        pay(client, key=key, payment_method="pm_card_visa_chargeDeclined")

    with pytest.raises(stripe.CardError) as second:
        pay(client, key=key, payment_method="pm_card_visa_chargeDeclined")

    assert second.value.error.charge == first.value.error.charge  # type: ignore[union-attr]
    assert second.value.headers.get("Idempotent-Replayed") == "true"  # type: ignore[union-attr]


def test_the_same_key_with_other_parameters_is_an_idempotency_error(
    client: stripe.StripeClient,
) -> None:
    key = new_key()
    pay(client, key=key)

    with pytest.raises(stripe.IdempotencyError) as caught:
        pay(client, key=key, amount=3000)

    assert caught.value.http_status == 400
    assert caught.value.user_message.startswith(  # type: ignore[union-attr]
        "Keys for idempotent requests can only be used with the same parameters"
    )


def test_the_same_key_on_another_endpoint_is_an_idempotency_error(
    client: stripe.StripeClient,
) -> None:
    key = new_key()
    pay(client, key=key)

    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.customers.create(
            params={"email": "a@example.com"}, options={"idempotency_key": key}
        )

    assert "can only be used for the same endpoint they were first used for" in str(
        caught.value.user_message
    )


def test_a_request_failing_validation_does_not_use_up_its_key(
    client: stripe.StripeClient,
) -> None:
    key = new_key()
    with pytest.raises(stripe.InvalidRequestError):
        pay(client, key=key, amount=10)

    intent = pay(client, key=key, amount=2000)

    assert intent.status == "succeeded"


@pytest.mark.emulator_only
def test_a_concurrent_request_with_the_same_key_gets_409_key_in_use(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    key = new_key()
    stripe_emulator.faults.set(latency=0.5, times=1)
    first = threading.Thread(target=pay, args=(client,), kwargs={"key": key})
    first.start()
    stripe_emulator.wait_for_in_flight(1)

    with pytest.raises(stripe.APIError) as caught:
        pay(client, key=key)
    first.join()

    assert (caught.value.http_status, caught.value.error.code) == (  # type: ignore[union-attr]
        409,
        "idempotency_key_in_use",
    )


@pytest.mark.emulator_only
def test_concurrent_requests_with_one_key_create_one_payment_intent(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    key = new_key()
    stripe_emulator.faults.set(latency=0.2)
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            outcomes.append(pay(client, key=key).id)
        except stripe.APIError as error:
            outcomes.append(str(error.error.code))  # type: ignore[union-attr]

    threads = [threading.Thread(target=attempt) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert stripe_emulator.count("payment_intent") == 1
    assert outcomes.count("idempotency_key_in_use") == 4


@pytest.mark.emulator_only
def test_a_key_longer_than_255_characters_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        pay(client, key="k" * 256)


@pytest.mark.emulator_only
def test_after_keys_expire_the_same_key_creates_a_new_payment_intent(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    key = new_key()
    first = pay(client, key=key)

    stripe_emulator.expire_idempotency_keys()

    assert pay(client, key=key).id != first.id


@pytest.mark.emulator_only
def test_an_expired_key_may_be_used_with_other_parameters(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    key = new_key()
    pay(client, key=key)
    stripe_emulator.expire_idempotency_keys()

    second = pay(client, key=key, amount=3000)

    assert second.amount == 3000


@pytest.mark.emulator_only
def test_expiring_keys_says_how_many_were_forgotten(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    pay(client, key=new_key())
    pay(client, key=new_key())

    assert (
        stripe_emulator.expire_idempotency_keys(),
        stripe_emulator.expire_idempotency_keys(),
    ) == (
        2,
        0,
    )


@pytest.mark.emulator_only
def test_keys_can_be_expired_over_http(
    client: stripe.StripeClient, stripe_emulator: StripeEmulator
) -> None:
    key = new_key()
    first = pay(client, key=key)

    status, _, body = http_call("POST", f"{stripe_emulator.url}/_emulator/idempotency/expire")

    assert (status, json.loads(body)) == (200, {"expired": 1})
    assert pay(client, key=key).id != first.id
