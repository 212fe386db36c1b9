"""The example app's OpenAPI document (seed T064) is exported to docs/openapi.json; these tests
fail when the committed copy no longer matches the app, and say how to regenerate it."""

import json
from pathlib import Path

from docs.examples.export_openapi import DOCUMENT, openapi_document, render

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
STALE = "docs/openapi.json is stale: run `python -m docs.examples.export_openapi`"


def test_the_exported_document_lives_in_docs():
    assert DOCUMENT == COMMITTED


def test_the_committed_document_is_the_apps_own():
    assert json.loads(COMMITTED.read_text()) == openapi_document(), STALE


def test_the_committed_document_is_byte_for_byte_what_the_export_writes():
    assert COMMITTED.read_text() == render(openapi_document()), STALE


def test_the_served_document_is_the_committed_one(host_app):
    response = host_app.request("GET", "/openapi.json", token=None)
    assert response.status == 200
    assert response.json() == json.loads(COMMITTED.read_text())


def test_every_operation_documents_its_errors_in_the_one_shape():
    document = json.loads(COMMITTED.read_text())
    error_bodies = {"#/components/schemas/ErrorBody", "#/components/schemas/HealthFailure"}
    # A decline is not an error of the request: its 402 is the failed payment (``error`` inside).
    declined = {"#/components/schemas/Payment", "#/components/schemas/SubscriptionResult"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
            assert errors, f"{where} documents no error"
            for status, response in errors.items():
                schema = response["content"]["application/json"]["schema"]
                allowed = error_bodies | (declined if status == "402" else set())
                assert schema.get("$ref") in allowed, f"{where} {status}: {schema}"
            assert "500" in errors, where
            if path.startswith("/api/v1/") and "webhooks" not in path:
                assert operation["security"] == [{"bearer": []}], where
                assert "401" in errors, where


def test_the_document_names_every_endpoint():
    paths = json.loads(COMMITTED.read_text())["paths"]
    assert {(m.upper(), p) for p, ops in paths.items() for m in ops} == {
        ("POST", "/api/v1/payments"),
        ("GET", "/api/v1/payments"),
        ("GET", "/api/v1/payments/{payment_id}"),
        ("POST", "/api/v1/refunds"),
        ("POST", "/api/v1/subscriptions"),
        ("GET", "/api/v1/subscriptions"),
        ("PATCH", "/api/v1/subscriptions/{subscription_id}"),
        ("POST", "/api/v1/webhooks/stripe"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
    }
