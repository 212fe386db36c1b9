"""CI's dependency audit (.ci/audit_dependencies.py) decides without flaking: an unreachable
or ignorant advisory source is a warning, a vulnerability with a fix fails, one without a fix
warns (docs/security.md, "Dependencies")."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "audit_dependencies.py"
_spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)


def report(*dependencies):
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


def test_an_unreachable_advisory_source_is_one_warning_and_does_not_fail():
    stderr = "requests.exceptions.ConnectionError: Failed to resolve 'api.osv.dev'"
    code, lines = audit.verdict(1, "", stderr)
    assert code == 0
    assert lines == [
        "warning: dependency audit skipped: the advisory source could not be reached "
        f"({stderr})"
    ]


def test_a_source_that_knows_none_of_the_packages_is_inconclusive_not_clean():
    skipped = {"name": "alembic", "skip_reason": "Dependency not found on PyPI"}
    code, lines = audit.verdict(0, report(skipped, {**skipped, "name": "click"}), "")
    assert code == 0
    assert lines[0].startswith("warning: dependency audit inconclusive")
    assert "none of the 2 packages" in lines[0]


def test_a_vulnerability_with_a_fix_fails_and_names_the_package():
    vulnerable = {"name": "jinja2", "version": "3.1.2",
                  "vulns": [{"id": "PYSEC-2024-1", "fix_versions": ["3.1.3"]}]}
    code, lines = audit.verdict(1, report(vulnerable, {"name": "click", "version": "8.1",
                                                       "vulns": []}), "")
    assert code == 1
    assert "error: jinja2 3.1.2: PYSEC-2024-1 (fixed in 3.1.3)" in lines
    assert lines[0] == (
        "dependency audit: 2 packages audited, 1 known vulnerabilities (1 with a fix)"
    )


@pytest.mark.parametrize("partly_skipped", [False, True])
def test_a_vulnerability_without_a_fix_warns_and_does_not_fail(partly_skipped):
    vulnerable = {"name": "ecdsa", "version": "0.19.0",
                  "vulns": [{"id": "GHSA-wj6h", "fix_versions": []}]}
    others = [{"name": "x", "skip_reason": "not found"}] if partly_skipped else []
    code, lines = audit.verdict(1, report(vulnerable, *others), "")
    assert code == 0
    assert "warning: ecdsa 0.19.0: GHSA-wj6h (no fix released yet)" in lines
    assert any("could not be audited" in line for line in lines) == partly_skipped


def test_ruff_security_rules_stay_on():
    pyproject = (SCRIPT.parents[1] / "pyproject.toml").read_text()
    assert '"S"' in pyproject.split("select = [", 1)[1].split("]", 1)[0]


def test_ci_runs_the_audit():
    assert ".ci/audit_dependencies.py" in (SCRIPT.parent / "run").read_text()
