"""payment-cli cards list/default/remove and subscriptions pause/resume: text and --json."""

import datetime as dt
import json
import uuid

import pytest


@pytest.fixture
def cli(demo_cli):
    return demo_cli


def subscribe(cli, user, method="pm_card_visa"):
    result = cli("pay", "--user", user, "--amount", "9.99", "--currency", "usd",
                 "--payment-method", method, "--idempotency-key", str(uuid.uuid4()),
                 "--plan", "basic-monthly", "--email", "ada@example.com", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["subscription_id"]


def cards(cli, user):
    result = cli("cards", "list", "--user", user, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["cards"]


def test_cards_list_shows_brand_last4_expiry_and_default(cli):
    user = str(uuid.uuid4())
    subscription_id = subscribe(cli, user)

    [card] = cards(cli, user)

    assert (card["brand"], card["last4"], card["default"]) == ("visa", "4242", True)
    assert card["subscriptions"] == [subscription_id] and card["id"].startswith("pm_")
    text = cli("cards", "list", "--user", user)
    assert text.exit_code == 0
    assert card["id"] in text.stdout and "visa" in text.stdout and "4242" in text.stdout
    assert "default" in text.stdout
    assert cli("cards", "list", "--user", str(uuid.uuid4())).stdout.strip() == "no saved cards"


def test_cards_default_and_remove(cli):
    user = str(uuid.uuid4())
    subscription_id = subscribe(cli, user)
    [visa] = cards(cli, user)

    in_use = cli("cards", "remove", visa["id"])
    assert in_use.exit_code == 2 and "[invalid_request]" in in_use.stderr

    made = cli("cards", "default", "--user", user, visa["id"], "--json")
    assert made.exit_code == 0, made.stderr
    assert json.loads(made.stdout)["default"] is True
    assert "default" in cli("cards", "default", "--user", user, visa["id"]).stdout

    assert cli("subscriptions", "cancel", subscription_id).exit_code == 0
    removed = cli("cards", "remove", visa["id"], "--json")
    assert removed.exit_code == 0, removed.stderr
    assert json.loads(removed.stdout)["removed_at"] is not None
    assert "removed" in cli("cards", "remove", visa["id"]).stdout
    assert cards(cli, user) == []


def test_cards_errors_exit_with_the_documented_codes(cli):
    missing = cli("cards", "remove", "pm_nosuchcard", "--json")
    assert missing.exit_code == 6
    assert json.loads(missing.stdout)["error"]["code"] == "not_found"
    bad = cli("cards", "default", "--user", str(uuid.uuid4()), "visa")
    assert bad.exit_code == 2 and "[invalid_request]" in bad.stderr


def test_subscriptions_pause_and_resume(cli):
    subscription_id = subscribe(cli, str(uuid.uuid4()))
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=20)).date().isoformat()

    paused = cli("subscriptions", "pause", subscription_id, "--until", until, "--json")

    assert paused.exit_code == 0, paused.stderr
    data = json.loads(paused.stdout)
    assert data["status"] == "paused" and data["pause_until"].startswith(until)
    again = cli("subscriptions", "pause", subscription_id)
    assert again.exit_code == 4 and "[illegal_transition]" in again.stderr

    resumed = cli("subscriptions", "resume", subscription_id, "--json")
    assert resumed.exit_code == 0, resumed.stderr
    data = json.loads(resumed.stdout)
    assert (data["status"], data["charged"], data["charge_error"]) == ("active", None, None)

    cli("subscriptions", "pause", subscription_id)
    text = cli("subscriptions", "resume", subscription_id)
    assert text.exit_code == 0 and "active" in text.stdout and "nothing charged" in text.stdout
    assert "paused" in cli("subscriptions", "pause", subscription_id).stdout


@pytest.mark.parametrize("until", ["2020-01-01", "tomorrow", "2027-13-01"])
def test_subscriptions_pause_refuses_a_bad_date(cli, until):
    user = str(uuid.uuid4())
    subscription_id = subscribe(cli, user)
    refused = cli("subscriptions", "pause", subscription_id, "--until", until)
    assert refused.exit_code == 2 and "[invalid_request]" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    shown = json.loads(cli("subscriptions", "show", "--user", user, "--json").stdout)
    assert shown["subscriptions"][0]["status"] == "active"


def test_resuming_an_unknown_subscription_is_not_found(cli):
    assert cli("subscriptions", "resume", str(uuid.uuid4())).exit_code == 6
