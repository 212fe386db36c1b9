"""Every kind of email the library sends is listed in the library guide, with when it goes."""

from pathlib import Path

import pytest

from payment_lib.notification_templates import KINDS

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "library.md"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_email_kind_has_a_row_in_the_library_guide(kind):
    assert f"| `{kind}` |" in GUIDE.read_text(), f"email kind {kind} is not in docs/library.md"
