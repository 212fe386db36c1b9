"""payment-cli quickstart: the four seed scenarios end to end on a machine with no configuration."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.emulator_only


def test_quickstart_passes_all_four_scenarios_with_no_configuration(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    result = subprocess.run([sys.executable, "-m", "payment_cli", "quickstart"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    for scenario in ("successful payment starts a subscription", "declined payment",
                     "signed webhook", "full refund"):
        assert scenario in result.stdout
    assert "4 passed, 0 failed" in result.stdout
    assert (tmp_path / "payments.db").exists()
    assert "Traceback" not in result.stderr


def test_quickstart_runs_again_on_the_same_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    for _ in range(2):
        result = subprocess.run([sys.executable, "-m", "payment_cli", "quickstart"],
                                cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def test_quickstart_refuses_a_live_key_before_anything_runs(tmp_path):
    key = "rk_live_" + "51Hq" * 6
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    env["PAYMENT_STRIPE_API_KEY"] = key
    result = subprocess.run([sys.executable, "-m", "payment_cli", "quickstart"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 8, result.stdout + result.stderr
    assert "refuses a live key" in result.stderr and "[invalid_configuration]" in result.stderr
    assert key not in result.stdout + result.stderr
    assert not (tmp_path / "payments.db").exists()


def test_quickstart_never_prints_the_database_password(empty_database_url, tmp_path):
    from sqlalchemy import make_url

    if empty_database_url.startswith("sqlite"):
        pytest.skip("a SQLite URL has no password")
    url = make_url(empty_database_url)
    secret = "qu1ckstartS3cret"
    # The test server trusts local connections: a password in the URL is not checked.
    with_password = url.set(password=secret).render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    env["PAYMENT_DATABASE_URL"] = with_password
    result = subprocess.run([sys.executable, "-m", "payment_cli", "quickstart"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120, check=False)

    assert secret not in result.stdout + result.stderr
    assert ":***@" in result.stdout, result.stdout + result.stderr


def test_quickstart_json_is_one_object_on_stdout(tmp_path):
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENT_")}
    result = subprocess.run([sys.executable, "-m", "payment_cli", "quickstart", "--json"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                            check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (report["passed"], report["failed"], report["skipped"]) == (4, 0, 0)
    assert [s["result"] for s in report["scenarios"]] == ["passed"] * 4
    assert report["database"].startswith("sqlite:///")
