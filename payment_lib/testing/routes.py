"""The API's route table: ``/v1/<resource>[/<id>[/<action>]]`` to the endpoint function.

An endpoint takes the store, the call and the ids from the path, and returns the object to
answer with (or raises ``ApiError``).
"""

from __future__ import annotations

from collections.abc import Callable

from payment_lib.testing import customers, disputes, lists, payments, refunds, search
from payment_lib.testing.errors import ApiError
from payment_lib.testing.store import Obj

Endpoint = Callable[..., Obj]

# (method, resource, with id?, action) -> endpoint. An action without an id is a fixed
# path under the resource (``/v1/payment_intents/search``).
ROUTES: dict[tuple[str, str, bool, str | None], Endpoint] = {
    ("POST", "payment_methods", False, None): customers.create_payment_method,
    ("GET", "payment_methods", False, None): customers.list_payment_methods,
    ("GET", "payment_methods", True, None): customers.retrieve_payment_method,
    ("POST", "payment_methods", True, None): customers.update_payment_method,
    ("POST", "payment_methods", True, "attach"): customers.attach_payment_method,
    ("POST", "payment_methods", True, "detach"): customers.detach_payment_method,
    ("POST", "customers", False, None): customers.create_customer,
    ("GET", "customers", False, None): customers.list_customers,
    ("GET", "customers", True, None): customers.retrieve_customer,
    ("POST", "customers", True, None): customers.update_customer,
    ("DELETE", "customers", True, None): customers.delete_customer,
    ("GET", "customers", True, "payment_methods"): customers.list_customer_payment_methods,
    ("POST", "payment_intents", False, None): payments.create_payment_intent,
    ("GET", "payment_intents", False, None): payments.list_payment_intents,
    ("GET", "payment_intents", False, "search"): search.search_payment_intents,
    ("GET", "payment_intents", True, None): payments.retrieve_payment_intent,
    ("POST", "payment_intents", True, None): payments.update_payment_intent,
    ("POST", "payment_intents", True, "confirm"): payments.confirm_payment_intent,
    ("POST", "payment_intents", True, "cancel"): payments.cancel_payment_intent,
    ("POST", "payment_intents", True, "capture"): payments.capture_payment_intent,
    ("GET", "charges", False, None): payments.list_charges,
    ("GET", "charges", False, "search"): search.search_charges,
    ("GET", "charges", True, None): payments.retrieve_charge,
    ("POST", "refunds", False, None): refunds.create_refund,
    ("GET", "refunds", False, None): refunds.list_refunds,
    ("GET", "refunds", True, None): refunds.retrieve_refund,
    ("GET", "disputes", False, None): disputes.list_disputes,
    ("GET", "disputes", True, None): disputes.retrieve_dispute,
    ("POST", "disputes", True, None): disputes.update_dispute,
    ("POST", "disputes", True, "close"): disputes.close_dispute,
    ("GET", "events", False, None): lists.list_events,
    ("GET", "events", True, None): lists.retrieve_event,
}


def route(method: str, path: str) -> tuple[Endpoint, list[str]]:
    """The endpoint for ``/v1/<resource>[/<id>[/<action>]]`` and the id, or a 404."""
    segments = path[len("/v1/") :].split("/")
    if len(segments) <= 3 and all(segments):
        if len(segments) == 2:
            fixed = ROUTES.get((method, segments[0], False, segments[1]))
            if fixed is not None:
                return fixed, []
        action = segments[2] if len(segments) == 3 else None
        endpoint = ROUTES.get((method, segments[0], len(segments) > 1, action))
        if endpoint is not None:
            return endpoint, segments[1:2]
    raise unrecognized(method, path)


def unrecognized(method: str, path: str) -> ApiError:
    return ApiError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
    )
