"""The API's route table: ``/v1/<resource>[/<id>[/<action>]]`` to the endpoint function.

An endpoint takes the store, the call and the ids from the path, and returns the object to
answer with (or raises ``ApiError``). Each route also names the operation it serves as
stripe-python names it (``payment_intents.create`` is ``client.v1.payment_intents.create``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from payment_lib.testing import customers, disputes, lists, payments, refunds, search, setup_intents
from payment_lib.testing.errors import ApiError
from payment_lib.testing.store import Obj

Endpoint = Callable[..., Obj]


@dataclass(frozen=True, slots=True)
class Route:
    endpoint: Endpoint
    operation: str


# (method, resource, with id?, action) -> route. An action without an id is a fixed path
# under the resource (``/v1/payment_intents/search``).
ROUTES: dict[tuple[str, str, bool, str | None], Route] = {
    ("POST", "payment_methods", False, None): Route(
        customers.create_payment_method, "payment_methods.create"
    ),
    ("GET", "payment_methods", False, None): Route(
        customers.list_payment_methods, "payment_methods.list"
    ),
    ("GET", "payment_methods", True, None): Route(
        customers.retrieve_payment_method, "payment_methods.retrieve"
    ),
    ("POST", "payment_methods", True, None): Route(
        customers.update_payment_method, "payment_methods.update"
    ),
    ("POST", "payment_methods", True, "attach"): Route(
        customers.attach_payment_method, "payment_methods.attach"
    ),
    ("POST", "payment_methods", True, "detach"): Route(
        customers.detach_payment_method, "payment_methods.detach"
    ),
    ("POST", "customers", False, None): Route(customers.create_customer, "customers.create"),
    ("GET", "customers", False, None): Route(customers.list_customers, "customers.list"),
    ("GET", "customers", True, None): Route(customers.retrieve_customer, "customers.retrieve"),
    ("POST", "customers", True, None): Route(customers.update_customer, "customers.update"),
    ("DELETE", "customers", True, None): Route(customers.delete_customer, "customers.delete"),
    ("GET", "customers", True, "payment_methods"): Route(
        customers.list_customer_payment_methods, "customers.payment_methods.list"
    ),
    ("POST", "payment_intents", False, None): Route(
        payments.create_payment_intent, "payment_intents.create"
    ),
    ("GET", "payment_intents", False, None): Route(
        payments.list_payment_intents, "payment_intents.list"
    ),
    ("GET", "payment_intents", False, "search"): Route(
        search.search_payment_intents, "payment_intents.search"
    ),
    ("GET", "payment_intents", True, None): Route(
        payments.retrieve_payment_intent, "payment_intents.retrieve"
    ),
    ("POST", "payment_intents", True, None): Route(
        payments.update_payment_intent, "payment_intents.update"
    ),
    ("POST", "payment_intents", True, "confirm"): Route(
        payments.confirm_payment_intent, "payment_intents.confirm"
    ),
    ("POST", "payment_intents", True, "cancel"): Route(
        payments.cancel_payment_intent, "payment_intents.cancel"
    ),
    ("POST", "payment_intents", True, "capture"): Route(
        payments.capture_payment_intent, "payment_intents.capture"
    ),
    ("POST", "setup_intents", False, None): Route(
        setup_intents.create_setup_intent, "setup_intents.create"
    ),
    ("GET", "setup_intents", False, None): Route(
        setup_intents.list_setup_intents, "setup_intents.list"
    ),
    ("GET", "setup_intents", True, None): Route(
        setup_intents.retrieve_setup_intent, "setup_intents.retrieve"
    ),
    ("POST", "setup_intents", True, "confirm"): Route(
        setup_intents.confirm_setup_intent, "setup_intents.confirm"
    ),
    ("POST", "setup_intents", True, "cancel"): Route(
        setup_intents.cancel_setup_intent, "setup_intents.cancel"
    ),
    ("GET", "charges", False, None): Route(payments.list_charges, "charges.list"),
    ("GET", "charges", False, "search"): Route(search.search_charges, "charges.search"),
    ("GET", "charges", True, None): Route(payments.retrieve_charge, "charges.retrieve"),
    # The client has no service for a charge's refunds; the resource's method names them.
    ("GET", "charges", True, "refunds"): Route(refunds.list_charge_refunds, "Charge.list_refunds"),
    ("POST", "refunds", False, None): Route(refunds.create_refund, "refunds.create"),
    ("GET", "refunds", False, None): Route(refunds.list_refunds, "refunds.list"),
    ("GET", "refunds", True, None): Route(refunds.retrieve_refund, "refunds.retrieve"),
    ("GET", "disputes", False, None): Route(disputes.list_disputes, "disputes.list"),
    ("GET", "disputes", True, None): Route(disputes.retrieve_dispute, "disputes.retrieve"),
    ("POST", "disputes", True, None): Route(disputes.update_dispute, "disputes.update"),
    ("POST", "disputes", True, "close"): Route(disputes.close_dispute, "disputes.close"),
    ("GET", "events", False, None): Route(lists.list_events, "events.list"),
    ("GET", "events", True, None): Route(lists.retrieve_event, "events.retrieve"),
}


def route(method: str, path: str) -> tuple[Route, list[str]]:
    """The route for ``/v1/<resource>[/<id>[/<action>]]`` and the id, or a 404."""
    segments = path[len("/v1/") :].split("/")
    if len(segments) <= 3 and all(segments):
        if len(segments) == 2:
            fixed = ROUTES.get((method, segments[0], False, segments[1]))
            if fixed is not None:
                return fixed, []
        action = segments[2] if len(segments) == 3 else None
        found = ROUTES.get((method, segments[0], len(segments) > 1, action))
        if found is not None:
            return found, segments[1:2]
    raise unrecognized(method, path)


def unrecognized(method: str, path: str) -> ApiError:
    return ApiError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
    )
