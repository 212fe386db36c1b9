"""Every Python example in docs/ runs: the blocks of one page run in order, in one namespace,
in an empty directory, with PAYMENT_* pointing at the emulator and a fresh SQLite file."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
PAGES = sorted(p for p in DOCS.glob("*.md") if BLOCK.search(p.read_text()))


def test_there_are_pages_with_examples():
    assert {p.name for p in PAGES} >= {"library.md"}


@pytest.mark.emulator_only
@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_python_example_on_the_page_runs(page, tmp_path, monkeypatch, stripe_emulator):
    monkeypatch.chdir(tmp_path)
    for variable in ("PAYMENT_DATABASE_URL", "PAYMENT_WEBHOOK_SECRETS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PAYMENT_STRIPE_API_KEY", stripe_emulator.api_key)
    monkeypatch.setenv("PAYMENT_STRIPE_API_BASE", stripe_emulator.url)
    monkeypatch.setenv("PAYMENT_STRIPE_RETRY_BACKOFF_SECONDS", "0.01")
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for number, match in enumerate(BLOCK.finditer(page.read_text()), start=1):
        code = compile(match.group(1), f"{page.name} (example {number})", "exec")
        exec(code, namespace)  # noqa: S102 - running our own documentation is the point
