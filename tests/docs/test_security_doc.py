"""docs/security.md links each threat to the tests that guard it: every test it names exists,
and every threat names at least one."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "security.md").read_text()
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
REFERENCES = sorted(set(REFERENCE.findall(PAGE)))


def functions_in(path):
    tree = ast.parse((ROOT / path).read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def threats():
    """Each ``###`` section under "Threats and the tests that guard them": (title, text)."""
    part = PAGE.split("## Threats and the tests that guard them", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^### (.+?)\n(.*?)(?=^### |\Z)", part, re.MULTILINE | re.DOTALL)


def test_the_page_names_tests():
    assert len(REFERENCES) >= 30


@pytest.mark.parametrize(("path", "name"), REFERENCES, ids=[f"{p}::{n}" for p, n in REFERENCES])
def test_every_test_the_page_names_exists(path, name):
    assert (ROOT / path).is_file(), f"{path} is gone"
    assert name in functions_in(path), f"{path} has no {name}"


def test_every_threat_is_guarded_by_a_named_test():
    found = threats()
    assert len(found) >= 12
    unguarded = [title for title, text in found if not REFERENCE.search(text)]
    assert unguarded == []
