"""The dependency rules of DESIGN.md, checked on the source so the layering stays true."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "payment_lib"


def imports_of(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def modules(under=""):
    for path in sorted((PACKAGE / under).rglob("*.py")):
        name = path.relative_to(PACKAGE.parent).with_suffix("").as_posix().replace("/", ".")
        yield name.removesuffix(".__init__"), path


ALL = dict(modules())


def offenders(selected, forbidden):
    return sorted(
        f"{name} imports {imported}"
        for name, path in selected.items()
        for imported in imports_of(path)
        if any(imported == f or imported.startswith(f + ".") for f in forbidden)
    )


def test_the_domain_imports_nothing_of_ours_but_the_domain():
    domain = {n: p for n, p in ALL.items() if n.startswith("payment_lib.domain")}
    ours = {n for n in ALL if not n.startswith("payment_lib.domain") and n != "payment_lib"}
    assert domain and offenders(domain, [*ours, "sqlalchemy", "stripe"]) == []
    assert not any("payment_lib" in imports_of(path) for path in domain.values())


def test_only_the_gateway_imports_stripe():
    others = {n: p for n, p in ALL.items()
              if not n.startswith(("payment_lib.stripe_gateway", "payment_lib.testing"))}
    assert offenders(others, ["stripe"]) == []


def test_the_repository_layer_never_imports_services_or_the_gateway():
    db = {n: p for n, p in ALL.items() if n.startswith("payment_lib.db")}
    assert offenders(db, ["payment_lib.services", "payment_lib.facade",
                          "payment_lib.stripe_gateway"]) == []


@pytest.mark.parametrize("forbidden", ["click", "payment_cli", "payment_lib.testing"])
def test_the_library_never_imports_the_cli_or_the_test_emulator(forbidden):
    library = {n: p for n, p in ALL.items() if not n.startswith("payment_lib.testing")}
    assert offenders(library, [forbidden]) == []


def test_services_see_stripe_only_through_the_port():
    services = {n: p for n, p in ALL.items() if n.startswith("payment_lib.services")}
    assert offenders(services, ["payment_lib.stripe_gateway", "payment_lib.facade"]) == []


def _graph():
    """Every import between payment_lib's modules, at any depth (TYPE_CHECKING too)."""
    def target(imported):
        while imported and imported not in ALL:
            imported = imported.rpartition(".")[0]
        return imported
    return {
        name: {t for t in map(target, imports_of(path)) if t and t != name}
        for name, path in ALL.items()
    }


def test_no_import_cycles():
    graph = _graph()
    cycles = []

    def visit(node, stack, done):
        if node in stack:
            cycles.append(" -> ".join([*stack[stack.index(node):], node]))
            return
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            # A package's __init__ re-exporting its own modules is not a cycle of the code.
            if not (nxt.startswith(node + ".") or node.startswith(nxt + ".")):
                visit(nxt, [*stack, node], done)
        done.add(node)

    done: set[str] = set()
    for module in sorted(graph):
        visit(module, [], done)
    assert cycles == []


def test_every_email_is_queued_through_the_one_helper():
    callers = sorted(
        name
        for name, path in ALL.items()
        if ".notifications.enqueue(" in path.read_text() and name != "payment_lib.services.notify"
    )
    assert callers == []


def test_every_module_of_the_library_and_the_cli_stays_under_400_lines():
    cli = PACKAGE.parent / "payment_cli"
    paths = [*ALL.values(), *cli.glob("*.py")]
    long = sorted(f"{p.name}: {n}" for p in paths if (n := len(p.read_text().splitlines())) > 400)
    assert long == []
