"""CI's dependency vulnerability check: pip-audit over the exact versions installed in .venv.

    .venv/bin/python .ci/audit_dependencies.py

It never makes CI flaky: when the advisory source (PyPI's JSON API, pip-audit's default) cannot
be reached, or knows none of the packages, it prints one ``warning:`` line saying so and exits 0.
When it can answer, every known vulnerability is printed (package, version, advisory, fixed
versions). The choice: a vulnerability that has a fixed release fails CI (exit 1: upgrade, or
pin around it with a reason); one with no fix yet is printed as a warning and does not fail
(nothing to upgrade to; docs/security.md says how to weigh it). Packages the source could not
audit are counted, never silently taken as safe.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv" / "bin"
TIMEOUT_SECONDS = 15


def installed_requirements() -> str:
    """``name==version`` for every package in .venv but the project itself."""
    frozen = subprocess.run(
        [str(VENV / "pip"), "freeze", "--exclude-editable"],
        check=True, capture_output=True, text=True,
    ).stdout
    return "".join(line + "\n" for line in frozen.splitlines() if "==" in line)


def run_pip_audit(requirements: Path) -> tuple[int, str, str]:
    """pip-audit's exit code, JSON report (stdout) and messages (stderr)."""
    done = subprocess.run(
        [str(VENV / "pip-audit"), "--requirement", str(requirements), "--no-deps",
         "--disable-pip", "--format", "json", "--progress-spinner", "off",
         "--timeout", str(TIMEOUT_SECONDS)],
        capture_output=True, text=True, check=False,
    )
    return done.returncode, done.stdout, done.stderr


def verdict(returncode: int, stdout: str, stderr: str) -> tuple[int, list[str]]:
    """The exit code and the lines to print for one pip-audit run."""
    try:
        report: dict[str, Any] = json.loads(stdout)
    except ValueError:
        last = (stderr.strip().splitlines() or [f"pip-audit exited {returncode}"])[-1]
        return 0, [f"warning: dependency audit skipped: the advisory source could not be "
                   f"reached ({last[:200]})"]
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = len(dependencies) - len(skipped)
    if dependencies and not audited:
        return 0, [f"warning: dependency audit inconclusive: the advisory source knew none of "
                   f"the {len(dependencies)} packages ({skipped[0]['skip_reason'][:120]})"]
    findings, fixable = [], 0
    for dependency in dependencies:
        for vulnerability in dependency.get("vulns", []):
            fixes = vulnerability.get("fix_versions") or []
            fixable += bool(fixes)
            fixed = f"fixed in {', '.join(fixes)}" if fixes else "no fix released yet"
            findings.append(
                f"{'error' if fixes else 'warning'}: {dependency['name']} "
                f"{dependency.get('version', '?')}: {vulnerability.get('id', '?')} ({fixed})"
            )
    lines = [f"dependency audit: {audited} packages audited, {len(findings)} known "
             f"vulnerabilities ({fixable} with a fix)", *findings]
    if skipped:
        lines.append(f"warning: {len(skipped)} of {len(dependencies)} packages could not be "
                     "audited (unknown to the advisory source)")
    return (1 if fixable else 0), lines


def main() -> int:
    if not (VENV / "pip-audit").exists():
        print("warning: dependency audit skipped: pip-audit is not installed")
        return 0
    requirements = ROOT / ".venv" / "audit-requirements.txt"
    requirements.write_text(installed_requirements())
    code, lines = verdict(*run_pip_audit(requirements))
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
