"""One error body everywhere (issue 14, item 7): ``{"error": {...}}`` with payment_lib's
``PaymentError.to_dict()`` inside, for the library's errors and the app's own (401, 404, 405,
500, 503); a schema that is behind is a clear 503; ``/healthz`` tells a load balancer."""

import http.client
import json

import pytest
import sqlalchemy as sa
from conftest import ALICE
from test_host_app_contract import payment_body

from docs.examples.host_schemas import Health
from payment_lib import Payments

ERROR_KEYS = {"code", "message", "param", "retry_after"}


def assert_error_shape(response, status, code):
    assert response.status == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) <= {"error", "checks"}, body
    assert set(body["error"]) <= ERROR_KEYS and {"code", "message"} <= set(body["error"])
    assert body["error"]["code"] == code
    return body["error"]


def test_an_unknown_path_is_a_404_in_the_error_shape(host_app):
    error = assert_error_shape(host_app.request("GET", "/api/v1/nothing-here"), 404, "not_found")
    assert error["message"] == "No such endpoint: GET /api/v1/nothing-here."


def test_an_unknown_path_needs_no_token_to_be_a_404(host_app):
    assert_error_shape(host_app.request("GET", "/nothing", token=None), 404, "not_found")


def test_a_wrong_method_is_a_405_in_the_error_shape_with_allow(host_app):
    response = host_app.request("DELETE", "/api/v1/payments")
    error = assert_error_shape(response, 405, "method_not_allowed")
    assert "DELETE" in error["message"]
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "The body must be a JSON object."),
        (b"[1, 2]", "The body must be a JSON object."),
        (b"", "The body must be a JSON object."),
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_400(host_app, raw, message):
    error = assert_error_shape(
        host_app.request("POST", "/api/v1/payments", raw=raw), 400, "invalid_request"
    )
    assert error["message"] == message


def test_library_errors_keep_their_shape(host_app):
    response = host_app.request("POST", "/api/v1/payments", payment_body(amount="20.001"))
    assert_error_shape(response, 400, "invalid_request")


def test_an_unexpected_failure_is_a_500_in_the_error_shape_without_details(broken_auth_app):
    response = broken_auth_app.request("GET", "/api/v1/payments")
    error = assert_error_shape(response, 500, "internal_error")
    assert "exploded" not in response.body.decode() and ALICE not in response.body.decode()
    assert "Traceback" not in response.body.decode()
    assert error["message"] == "Something went wrong on our side; it has been logged."


# The schema: behind is a 503 that says what to run


def test_a_schema_that_is_behind_is_a_503_saying_to_upgrade(unmigrated_app):
    head = Payments.latest_revision()
    response = unmigrated_app.request("POST", "/api/v1/payments", payment_body())
    error = assert_error_shape(response, 503, "schema_behind")
    assert error["message"] == (
        f"The database schema is at revision none (empty); this app needs {head}. "
        "Run `payment-cli db upgrade`."
    )
    assert response.headers["retry-after"] == "30"
    health = unmigrated_app.request("GET", "/healthz", token=None)
    assert_error_shape(health, 503, "schema_behind")
    assert [c["ok"] for c in health.json()["checks"]] == [True, False]

    unmigrated_app.payments.upgrade_database()  # what `payment-cli db upgrade` does

    assert unmigrated_app.request("POST", "/api/v1/payments", payment_body()).status == 201
    assert unmigrated_app.request("GET", "/healthz", token=None).status == 200


def test_a_webhook_with_the_schema_behind_is_a_503_so_stripe_delivers_again(unmigrated_app):
    response = unmigrated_app.request(
        "POST",
        "/api/v1/webhooks/stripe",
        raw=b"{}",
        headers={"Stripe-Signature": "t=1"},
        token=None,
    )
    assert_error_shape(response, 503, "schema_behind")


def test_an_unreachable_database_is_a_503(unreachable_app, request):
    # SQLite's missing directory has its own code (issue 14, item 1), still a 503.
    sqlite = request.node.callspec.params["unreachable_app"] == "sqlite"
    code = "database_file_missing" if sqlite else "database_unavailable"
    response = unreachable_app.request("GET", "/api/v1/payments")
    assert_error_shape(response, 503, code)
    health = unreachable_app.request("GET", "/healthz", token=None)
    assert_error_shape(health, 503, code)
    assert [c["name"] for c in health.json()["checks"]] == ["database", "schema"]
    assert [c["ok"] for c in health.json()["checks"]] == [False, False]


# /healthz


def test_healthz_reports_each_check_and_needs_no_token(host_app):
    response = host_app.request("GET", "/healthz", token=None)
    assert response.status == 200
    Health.model_validate(response.json())
    head = Payments.latest_revision()
    assert response.json() == {
        "status": "ok",
        "checks": [
            {"name": "database", "ok": True, "detail": "reachable"},
            {"name": "schema", "ok": True, "detail": f"at revision {head}, the newest"},
        ],
    }


def _stamp(url, revision):
    """Set the database's recorded revision, as another release's ``db upgrade`` would."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision}
            )
    finally:
        engine.dispose()


def test_a_schema_a_revision_behind_is_a_503(host_app):
    known = Payments.known_revisions()
    _stamp(host_app.payments.settings.database_url, known[-2])
    response = host_app.request("GET", "/api/v1/payments")
    error = assert_error_shape(response, 503, "schema_behind")
    assert f"at revision {known[-2]}; this app needs {known[-1]}" in error["message"]


def test_a_schema_ahead_of_the_app_is_served_during_a_rolling_deploy(host_app):
    """A newer release migrated the database (migrations only add): the older app keeps
    serving, and /healthz says so."""
    _stamp(host_app.payments.settings.database_url, "9999_from_a_newer_release")
    assert host_app.request("GET", "/api/v1/payments").status == 200
    health = host_app.request("GET", "/healthz", token=None)
    assert health.status == 200
    head = Payments.latest_revision()
    assert health.json()["checks"][1] == {
        "name": "schema",
        "ok": True,
        "detail": f"at revision 9999_from_a_newer_release, newer than this app's {head}",
    }


def test_a_body_over_64_kib_is_a_413_and_nothing_is_charged(host_app):
    body = payment_body(description="x" * 70_000)
    response = host_app.request("POST", "/api/v1/payments", body)
    error = assert_error_shape(response, 413, "payload_too_large")
    assert error["message"] == "The body is larger than 65536 bytes."
    assert host_app.request("GET", "/api/v1/payments").json()["payments"] == []


def test_a_streamed_body_over_the_limit_is_a_413_too(host_app):
    connection = http.client.HTTPConnection("127.0.0.1", host_app.port, timeout=30)
    try:
        chunks = (b"{" + b" " * 16_384 for _ in range(5))  # no Content-Length: chunked
        connection.request(
            "POST",
            "/api/v1/payments",
            body=chunks,
            headers={"Authorization": f"Bearer {ALICE}", "Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"]["code"] == "payload_too_large"
    finally:
        connection.close()
