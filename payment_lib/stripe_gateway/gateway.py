"""The only module that imports ``stripe``: SDK calls, retries, the circuit breaker, and the
translation of Stripe's errors into ours.

Retries happen here and nowhere else (the SDK client is built with no retries of its own), and
every POST carries an explicit idempotency key, so a retry can never charge twice.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import stripe
import structlog
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from payment_lib.circuit_breaker import CircuitBreaker, CircuitOpen
from payment_lib.config import Settings
from payment_lib.domain.errors import ConfigurationError, NotFound
from payment_lib.metrics import Metrics
from payment_lib.stripe_gateway.card_calls import CardCalls
from payment_lib.stripe_gateway.errors import STRIPE_HOST, transient, translate
from payment_lib.stripe_gateway.setup_intents import SetupIntentCalls
from payment_lib.stripe_gateway.transport import http_client
from payment_lib.stripe_objects import IntentOutcome, Listable, RefundOutcome
from payment_lib.stripe_objects import intent_outcome as _outcome

log = structlog.get_logger(__name__)
T = TypeVar("T")
MAX_WAIT_SECONDS = 8  # between two attempts of a Stripe call


BREAKER_FAILURES = 5
BREAKER_RESET_SECONDS = 60


class StripeGateway(SetupIntentCalls, CardCalls):
    """Stripe calls with timeouts, bounded retries and a circuit breaker."""

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
        metrics: Metrics | None = None,
    ) -> None:
        self.client = client
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.metrics = metrics
        self._retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=backoff_seconds, max=MAX_WAIT_SECONDS),
            retry=retry_if_exception(transient),
            reraise=True,
        )
        self.breaker = CircuitBreaker(
            failures=BREAKER_FAILURES,
            reset_seconds=BREAKER_RESET_SECONDS,
            on_change=self._breaker_changed,
        )

    def _breaker_changed(self, old: str, new: str) -> None:
        log.warning("stripe circuit breaker", old_state=old, new_state=new)
        if self.metrics is not None:
            self.metrics.circuit_state.set(1 if new == "open" else 0)

    @classmethod
    def from_settings(cls, settings: Settings, *, metrics: Metrics | None = None) -> StripeGateway:
        """A gateway for the key and API base in ``settings``."""
        if settings.stripe_api_key is None:
            raise ConfigurationError("PAYMENT_STRIPE_API_KEY: required to talk to Stripe.")
        client = stripe.StripeClient(
            settings.stripe_api_key.get_secret_value(),
            base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else {},
            max_network_retries=0,
            http_client=http_client(
                settings.stripe_api_base or f"https://{STRIPE_HOST}",
                settings.stripe_timeout_seconds,
            ),
        )
        return cls(client, backoff_seconds=settings.stripe_retry_backoff_seconds, metrics=metrics)

    def _call(self, operation: str, function: Callable[[], T]) -> T:
        """``function`` through the breaker; a transient failure tried again, ``attempts`` in
        all, with tenacity's exponential waits between; Stripe's errors translated into ours.

        One ``Retrying`` serves every call: tenacity keeps a call's state per thread, and
        building one per call cost more than the rest of the call's Python."""
        try:
            for attempt in self._retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    log.info("stripe call", operation=operation, attempt=number)
                    try:
                        return self.breaker.call(function, is_failure=transient)
                    except stripe.StripeError as error:
                        log.error(
                            "stripe call failed",
                            operation=operation,
                            attempt=number,
                            http_status=error.http_status,
                            stripe_code=error.code,
                            stripe_request_id=error.request_id,
                        )
                        raise
        except (stripe.StripeError, CircuitOpen) as error:
            raise translate(error) from error
        raise AssertionError("unreachable: tenacity either returns or raises")

    def confirm_payment(
        self,
        *,
        amount: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        return_url: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        customer: str | None = None,
        off_session: bool = False,
        save_for_off_session: bool = False,
    ) -> IntentOutcome:
        """Create and confirm a PaymentIntent in one call; a decline is an outcome, not an error.

        Raises:
            ProviderUnavailable: Stripe unreachable or failing after retries (same key: safe).
            InvalidRequest, IdempotencyConflict, ConfigurationError, ProviderError.
        """
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "payment_method": payment_method,
            "confirm": True,
            "expand": ["payment_method"],
            "metadata": metadata or {},
        }
        if off_session:
            params["off_session"] = True
        elif return_url:
            params["return_url"] = return_url
        else:
            params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
        if description:
            params["description"] = description
        if customer:
            params["customer"] = customer
        if save_for_off_session:
            params["setup_future_usage"] = "off_session"

        def create() -> IntentOutcome:
            # Plain JSON (the SDK's raw request): no SDK objects built, then turned into dicts.
            try:
                answer = self.client.raw_request(
                    "post", "/v1/payment_intents", idempotency_key=idempotency_key, **params
                )
            except stripe.CardError as declined:
                json_body: Any = declined.json_body or {}
                body = json_body.get("error") or {}
                intent_body = body.get("payment_intent") or {}
                return _outcome(intent_body, request_id=declined.request_id, error=body)
            return _outcome(answer.data, request_id=answer.request_id)

        return self._call("payment_intents.create", create)

    def create_customer(self, *, user_id: str, idempotency_key: str) -> str:
        """A Stripe Customer for one of our users (its metadata names the user); its id. The
        parameters never change for a user, so its key can be retried for ever."""

        def create() -> str:
            customer = self.client.v1.customers.create(
                params={"metadata": {"user_id": user_id}},
                options={"idempotency_key": idempotency_key},
            )
            return customer.id

        return self._call("customers.create", create)

    def update_customer_email(self, customer: str, email: str) -> None:
        """Set a Customer's email.

        The key is new for each change and kept across this call's retries. Setting an email
        is idempotent by nature, so a retry after a crash may send it again; a key derived from
        the address would make X, Y, X within 24 hours replay the first answer and leave Y.
        """
        key = f"payment_lib-customer-email-{customer}-{uuid.uuid4().hex}"
        self._call(
            "customers.update",
            lambda: self.client.v1.customers.update(
                customer,
                params={"email": email},
                options={"idempotency_key": key},
            ),
        )

    def retrieve_payment(self, intent_id: str) -> IntentOutcome:
        """The PaymentIntent as Stripe has it now, with its payment method expanded.

        Raises:
            NotFound: Stripe has no such PaymentIntent.
        """

        def retrieve() -> IntentOutcome:
            try:
                intent = self.client.v1.payment_intents.retrieve(
                    intent_id, params={"expand": ["payment_method"]}
                )
            except stripe.InvalidRequestError as error:
                if error.http_status == 404:
                    raise NotFound(f"Stripe has no PaymentIntent {intent_id}.") from None
                raise
            return _outcome(intent.to_dict(), request_id=_request_id(intent))

        return self._call("payment_intents.retrieve", retrieve)

    def find_payment_intent(
        self,
        metadata_key: str,
        value: str,
        *,
        created_from: dt.datetime,
        created_to: dt.datetime,
    ) -> IntentOutcome | None:
        """The PaymentIntent whose ``metadata[metadata_key] == value``, or None if Stripe has
        none: by the Search API, or, where search is unavailable, by listing the PaymentIntents
        created between ``created_from`` and ``created_to``. Read-only.

        Search lags writes by up to a minute (an hour during outages): ask it about objects
        older than that, never in a read-after-write flow.
        """

        def search() -> str | None:
            query = f"metadata['{metadata_key}']:'{value}'"
            try:
                found = self.client.v1.payment_intents.search(params={"query": query})
                candidates: Iterable[stripe.PaymentIntent] = found.data
            except stripe.InvalidRequestError as unavailable:
                log.warning("stripe search unavailable; listing", reason=str(unavailable))
                candidates = self.client.v1.payment_intents.list(
                    params={
                        "created": {
                            "gte": int(created_from.timestamp()),
                            "lte": int(created_to.timestamp()),
                        },
                        "limit": 100,
                    }
                ).auto_paging_iter()
            for intent in candidates:
                if (intent.to_dict().get("metadata") or {}).get(metadata_key) == value:
                    return intent.id
            return None

        intent_id = self._call("payment_intents.search", search)
        return self.retrieve_payment(intent_id) if intent_id else None

    def walk(
        self,
        resource: Listable,
        *,
        created_from: dt.datetime,
        created_to: dt.datetime,
        page_size: int = 100,
    ) -> Iterator[list[dict[str, Any]]]:
        """Every object of ``resource`` created in [created_from, created_to), newest first, a
        page at a time (each page retried on its own; read-only; memory of one page).

        Stripe's lists reach any age, unlike its events (30 days). Pages are read as plain JSON
        through the SDK's raw request (same auth, errors and retries): building the SDK's
        objects only to turn them back into dicts cost about 90 % of a reconcile.
        """
        params: dict[str, Any] = {
            "created": {
                "gte": int(created_from.timestamp()),
                "lt": math.ceil(created_to.timestamp()),
            },
            "limit": page_size,
        }
        while True:
            page = self._call(
                f"{resource}.list",
                lambda asked=dict(params): (
                    self.client.raw_request(  # type: ignore[misc]
                        "get", f"/v1/{resource}", **asked
                    ).data
                ),
            )
            items: list[dict[str, Any]] = page.get("data") or []
            if items:
                yield items
            if not page.get("has_more") or not items:
                return
            params["starting_after"] = items[-1]["id"]

    def refunds_of(self, payment_intent: str) -> list[dict[str, Any]]:
        """Every refund of a PaymentIntent, oldest first."""

        def fetch() -> list[dict[str, Any]]:
            page = self.client.v1.refunds.list(
                params={"payment_intent": payment_intent, "limit": 100}
            )
            return [refund.to_dict() for refund in page.auto_paging_iter()][::-1]

        return self._call("refunds.list", fetch)

    def create_refund(
        self,
        *,
        payment_intent: str,
        amount: int,
        idempotency_key: str,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> RefundOutcome:
        """Refund ``amount`` of a PaymentIntent's charge, once per idempotency key.

        Raises:
            AlreadyRefunded: Stripe says the charge is fully refunded already.
            ProviderUnavailable: Stripe unreachable or failing after retries: the outcome is
                unknown, so ask ``find_refund`` before anything else.
            InvalidRequest, IdempotencyConflict, ConfigurationError, ProviderError.
        """
        params: dict[str, Any] = {
            "payment_intent": payment_intent,
            "amount": amount,
            "metadata": metadata or {},
        }
        if reason:
            params["reason"] = reason

        def create() -> RefundOutcome:
            refund = self.client.v1.refunds.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
            return _refund_outcome(refund)

        return self._call("refunds.create", create)

    def find_refund(self, *, payment_intent: str, key: str, value: str) -> RefundOutcome | None:
        """The PaymentIntent's refund with ``metadata[key] == value``; None if Stripe has none."""

        def find() -> RefundOutcome | None:
            page = self.client.v1.refunds.list(
                params={"payment_intent": payment_intent, "limit": 100}
            )
            for refund in page.auto_paging_iter():
                if (refund.to_dict().get("metadata") or {}).get(key) == value:
                    return _refund_outcome(refund)
            return None

        return self._call("refunds.list", find)

    def retrieve_event(self, event_id: str) -> dict[str, Any]:
        """An event from Stripe's events API (kept there for 30 days).

        Raises:
            NotFound: Stripe has no such event.
        """

        def retrieve() -> dict[str, Any]:
            try:
                return self.client.v1.events.retrieve(event_id).to_dict()
            except stripe.InvalidRequestError as error:
                if error.http_status == 404:
                    raise NotFound(f"Stripe has no event {event_id}.") from None
                raise

        return self._call("events.retrieve", retrieve)

    def retrieve_refund(self, refund_id: str) -> RefundOutcome:
        """The refund as Stripe has it now."""
        return self._call(
            "refunds.retrieve",
            lambda: _refund_outcome(self.client.v1.refunds.retrieve(refund_id)),
        )


def _refund_outcome(refund: stripe.Refund) -> RefundOutcome:
    return RefundOutcome(
        refund_id=refund.id,
        status=refund.status or "pending",
        amount=refund.amount,
        currency=refund.currency,
        failure_reason=refund.to_dict().get("failure_reason"),
        request_id=_request_id(refund),
    )


def _request_id(resource: stripe.StripeObject) -> str | None:
    return resource.last_response.request_id if resource.last_response else None
