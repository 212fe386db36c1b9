"""docs/emulator.md: its Python example runs as written, and it names every test card, event
and resource the emulator has."""

from __future__ import annotations

import re
from pathlib import Path

from emulator_helpers import recorded_event_types

from payment_lib.testing.cards import card_names
from payment_lib.testing.routes import ROUTES

DOC = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"


def test_the_quick_start_example_in_the_emulator_docs_runs() -> None:
    example = re.search(r"```python\n(import stripe\n.*?)```", DOC.read_text(), re.S)
    assert example is not None

    exec(compile(example.group(1), str(DOC), "exec"), {})  # noqa: S102 - our own docs


def test_every_test_card_is_in_the_emulator_docs() -> None:
    text = DOC.read_text()

    assert [name for name in card_names() if name not in text] == []


def test_every_event_the_emulator_records_is_in_the_emulator_docs() -> None:
    recorded = recorded_event_types()
    text = DOC.read_text()

    assert recorded and sorted(event for event in recorded if f"`{event}`" not in text) == []


def documented_path(key: tuple[str, str, bool, str | None]) -> str:
    """A route as the endpoint table writes it: ``POST /v1/payment_intents/{id}/confirm``."""
    method, resource, with_id, action = key
    return (
        f"{method} /v1/{resource}" + ("/{id}" if with_id else "") + (f"/{action}" if action else "")
    )


def test_every_endpoint_has_a_row_saying_what_is_and_is_not_emulated() -> None:
    rows = {
        cells[0].strip("` "): [cell.strip() for cell in cells[1:]]
        for line in DOC.read_text().splitlines()
        if line.startswith("| `")
        for cells in [line.strip("|").split("|")]
    }

    missing = sorted(path for path in map(documented_path, ROUTES) if path not in rows)
    incomplete = sorted(
        path
        for path in map(documented_path, ROUTES)
        if path in rows and (len(rows[path]) != 2 or not all(rows[path]))
    )
    assert (missing, incomplete) == ([], [])


def test_the_endpoint_table_lists_no_endpoint_the_emulator_lacks() -> None:
    served = set(map(documented_path, ROUTES))
    listed = {
        line.split("|")[1].strip("` ")
        for line in DOC.read_text().splitlines()
        if line.startswith("| `") and "/v1/" in line.split("|")[1]
    }

    assert sorted(listed - served) == []
