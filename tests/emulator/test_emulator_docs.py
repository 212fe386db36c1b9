"""The Python example in docs/emulator.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"


def test_the_quick_start_example_in_the_emulator_docs_runs() -> None:
    example = re.search(r"```python\n(import stripe\n.*?)```", DOC.read_text(), re.S)
    assert example is not None

    exec(compile(example.group(1), str(DOC), "exec"), {})  # noqa: S102 - our own docs
