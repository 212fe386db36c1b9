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


def test_every_route_is_in_the_emulator_docs() -> None:
    text = DOC.read_text()

    missing = sorted(
        {resource for _, resource, _, _ in ROUTES if resource.replace("_", "") not in text.lower()}
    )
    assert missing == []
