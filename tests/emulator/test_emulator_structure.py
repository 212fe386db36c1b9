"""The emulator's own house rules: small modules, and no import cycles between them."""

from __future__ import annotations

import ast
from pathlib import Path

TESTING = Path(__file__).resolve().parents[2] / "payment_lib" / "testing"
MAX_LINES = 400


def imported_modules(path: Path) -> set[str]:
    """The sibling modules a testing module imports (``TYPE_CHECKING`` imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        if node.module == "payment_lib.testing":
            found |= {alias.name for alias in node.names}
        elif node.module.startswith("payment_lib.testing."):
            found.add(node.module.split(".")[2])
    return found - {path.stem}


def first_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        for imported in sorted(graph.get(name, ())):
            if imported in path:
                return [*path[path.index(imported) :], imported]
            if imported not in done:
                found = visit(imported, [*path, imported])
                if found:
                    return found
        done.add(name)
        return None

    for name in sorted(graph):
        found = visit(name, [name])
        if found:
            return found
    return None


def test_every_emulator_module_stays_under_400_lines() -> None:
    sizes = {path.name: len(path.read_text().splitlines()) for path in TESTING.glob("*.py")}

    assert {name: size for name, size in sizes.items() if size >= MAX_LINES} == {}


def test_the_emulator_modules_import_each_other_without_cycles() -> None:
    graph = {
        path.stem: imported_modules(path)
        for path in TESTING.glob("*.py")
        if path.stem != "__init__"
    }

    assert first_cycle(graph) is None
