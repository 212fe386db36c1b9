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
