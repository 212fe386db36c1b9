"""Who the caller is comes from a bearer token looked up in the app's token table (issue 14,
item 7): never from a header or a body field the client chooses. A customer sees only their
own payments and subscriptions; someone else's is a 404, exactly like one that does not exist."""

import hashlib
import json
import uuid

import pytest
from conftest import ADA, ALICE, BOB, TOKEN_ENTRIES, USERS, serve
from test_host_app_contract import payment_body

from docs.examples.host_app import app_from_env
from docs.examples.host_auth import Caller, TokenTable
from docs.examples.host_schemas import PaymentPage
from payment_lib import ConfigurationError

SECURED = [
    ("POST", "/api/v1/payments"),
    ("GET", "/api/v1/payments"),
    ("GET", "/api/v1/payments/5f0c7a43-7f1e-4c4e-9a43-0d2b8c1e6a04"),
    ("POST", "/api/v1/refunds"),
    ("POST", "/api/v1/subscriptions"),
    ("GET", "/api/v1/subscriptions"),
    ("PATCH", "/api/v1/subscriptions/5f0c7a43-7f1e-4c4e-9a43-0d2b8c1e6a05"),
]
UNAUTHENTICATED = {
    "error": {
        "code": "unauthenticated",
        "message": "Send a valid bearer token: Authorization: Bearer <token>.",
    }
}


@pytest.mark.parametrize(("method", "path"), SECURED)
def test_no_token_is_a_401_in_the_error_shape(host_app, method, path):
    response = host_app.request(method, path, payment_body(), token=None)
    assert response.status == 401
    assert response.json() == UNAUTHENTICATED
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {ALICE}x",
        f"Bearer {ALICE.upper()}",
        "Bearer ",
        f"Basic {ALICE}",
        ALICE,
        f"Bearer {hashlib.sha256(ALICE.encode()).hexdigest()}",  # the table's hash is no token
    ],
)
def test_a_wrong_token_or_scheme_is_the_same_401(host_app, authorization):
    response = host_app.request(
        "GET", "/api/v1/payments", headers={"Authorization": authorization}, token=None
    )
    assert response.status == 401
    assert response.json() == UNAUTHENTICATED


def test_the_scheme_is_case_insensitive(host_app):
    response = host_app.request(
        "GET", "/api/v1/payments", headers={"Authorization": f"bearer {ALICE}"}, token=None
    )
    assert response.status == 200


def test_a_user_id_in_the_body_is_refused_and_nothing_is_charged(host_app):
    response = host_app.request("POST", "/api/v1/payments", payment_body(user_id=USERS[BOB]))
    assert response.status == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_request", "user_id")
    for token in (ALICE, BOB):
        listed = host_app.request("GET", "/api/v1/payments", token=token)
        assert listed.json()["payments"] == []


def test_a_payment_belongs_to_the_caller_who_reads_it_back(host_app):
    paid = host_app.request("POST", "/api/v1/payments", payment_body())
    assert paid.json()["user_id"] == USERS[ALICE]
    read = host_app.request("GET", f"/api/v1/payments/{paid.json()['id']}")
    assert read.status == 200
    assert read.json() == paid.json()


def test_another_users_payment_is_a_404_exactly_like_an_unknown_one(host_app):
    paid = host_app.request("POST", "/api/v1/payments", payment_body()).json()
    theirs = host_app.request("GET", f"/api/v1/payments/{paid['id']}", token=BOB)
    unknown_id = str(uuid.uuid4())
    unknown = host_app.request("GET", f"/api/v1/payments/{unknown_id}", token=BOB)
    assert (theirs.status, unknown.status) == (404, 404)
    assert theirs.body.decode() == unknown.body.decode().replace(unknown_id, paid["id"])
    assert theirs.json()["error"]["code"] == "not_found"


def test_an_admin_reads_any_payment(host_app):
    paid = host_app.request("POST", "/api/v1/payments", payment_body()).json()
    read = host_app.request("GET", f"/api/v1/payments/{paid['id']}", token=ADA)
    assert read.status == 200 and read.json()["user_id"] == USERS[ALICE]


def test_the_callers_payments_newest_first_in_pages(host_app):
    mine = [host_app.request("POST", "/api/v1/payments", payment_body()).json() for _ in range(3)]
    host_app.request("POST", "/api/v1/payments", payment_body(), token=BOB)
    first = host_app.request("GET", "/api/v1/payments?limit=2")
    assert first.status == 200
    PaymentPage.model_validate(first.json())
    newest_first = [p["id"] for p in reversed(mine)]
    assert [p["id"] for p in first.json()["payments"]] == newest_first[:2]
    cursor = first.json()["next_cursor"]
    assert cursor == newest_first[1]
    second = host_app.request("GET", f"/api/v1/payments?limit=2&cursor={cursor}").json()
    assert [p["id"] for p in second["payments"]] == newest_first[2:]
    assert second["next_cursor"] is None
    bobs = host_app.request("GET", "/api/v1/payments", token=BOB).json()["payments"]
    assert [p["user_id"] for p in bobs] == [USERS[BOB]]


@pytest.mark.parametrize(
    ("query", "param"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("limit=many", "limit"), ("cursor=x", "cursor")],
)
def test_a_bad_page_request_is_a_400_naming_the_parameter(host_app, query, param):
    response = host_app.request("GET", f"/api/v1/payments?{query}")
    assert response.status == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_request", param)


def test_a_cursor_from_another_users_list_is_a_400(host_app):
    theirs = host_app.request("POST", "/api/v1/payments", payment_body(), token=BOB).json()
    response = host_app.request("GET", f"/api/v1/payments?cursor={theirs['id']}")
    assert response.status == 400
    assert response.json()["error"]["param"] == "cursor"


# The token table, as deployed: a JSON file of SHA-256 digests


def test_the_token_table_file_maps_a_token_to_a_caller(tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(TOKEN_ENTRIES))
    table = TokenTable.from_file(path)
    assert table(ADA) == Caller(USERS[ADA], frozenset({"admin"}), "ada@support")
    assert table(ALICE) == Caller(USERS[ALICE], frozenset(), USERS[ALICE])
    assert table("tok_nobody") is None
    assert table(ADA).is_admin and not table(ALICE).is_admin


@pytest.mark.parametrize(
    ("entries", "named"),
    [
        ([{"sha256": "abc", "user_id": str(uuid.uuid4())}], "entry 1: sha256"),
        ([{"sha256": "a" * 64, "user_id": "alice"}], "entry 1: user_id"),
        ([{"sha256": "a" * 64}], "entry 1: user_id"),
        ([{"sha256": "a" * 64, "user_id": str(uuid.uuid4()), "roles": "admin"}], "entry 1: roles"),
        (
            [{"sha256": "a" * 64, "user_id": str(uuid.uuid4())}] * 2,
            "entry 2: sha256",
        ),
        ({"sha256": "a" * 64}, "a JSON list"),
    ],
)
def test_a_bad_token_table_is_refused_naming_the_entry(tmp_path, entries, named):
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(ConfigurationError) as raised:
        TokenTable.from_file(path)
    assert named in raised.value.message


def test_the_app_from_the_environment_needs_a_token_table(monkeypatch, tmp_path):
    monkeypatch.delenv("HOST_APP_TOKENS_FILE", raising=False)
    with pytest.raises(ConfigurationError) as raised:
        app_from_env()
    assert "HOST_APP_TOKENS_FILE" in raised.value.message
    monkeypatch.setenv("HOST_APP_TOKENS_FILE", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigurationError) as raised:
        app_from_env()
    assert "HOST_APP_TOKENS_FILE" in raised.value.message


def test_the_app_as_deployed_serves_the_callers_of_its_token_file(settings, tmp_path, monkeypatch):
    """``uvicorn --factory docs.examples.host_app:app_from_env``, configured by the environment."""
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(TOKEN_ENTRIES))
    monkeypatch.setenv("HOST_APP_TOKENS_FILE", str(path))
    monkeypatch.setenv("PAYMENT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PAYMENT_STRIPE_API_KEY", settings.stripe_api_key.get_secret_value())
    if settings.stripe_api_base:  # the emulator; unset against real Stripe test mode
        monkeypatch.setenv("PAYMENT_STRIPE_API_BASE", settings.stripe_api_base)
    for app in serve("docs.examples.host_app:app_from_env", factory=True):
        paid = app.request("POST", "/api/v1/payments", payment_body(), token=BOB)
        assert paid.status == 201 and paid.json()["user_id"] == USERS[BOB]
        assert app.request("GET", "/api/v1/payments", token="tok_unknown").status == 401
