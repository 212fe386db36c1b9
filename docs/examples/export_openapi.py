"""Export the example host app's OpenAPI document to docs/openapi.json (seed T064).

    python -m docs.examples.export_openapi           # write it
    python -m docs.examples.export_openapi --check   # exit 1 if the committed copy is stale

tests/contract/test_host_app_openapi.py fails when the committed copy is stale. Building the
document needs no database and no Stripe key: nothing connects until a request is served.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from docs.examples.host_app import create_app
from docs.examples.host_auth import TokenTable
from payment_lib import Payments, Settings

DOCUMENT = Path(__file__).resolve().parents[1] / "openapi.json"


def openapi_document() -> dict[str, Any]:
    """The document the app serves at /openapi.json."""
    settings = Settings(database_url="sqlite://")
    with Payments.from_settings(settings, registry=CollectorRegistry()) as payments:
        return create_app(payments, TokenTable({})).openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render(openapi_document())
    if "--check" in argv:
        current = DOCUMENT.read_text() if DOCUMENT.is_file() else ""
        if current != text:
            print(f"{DOCUMENT} is stale: run python -m docs.examples.export_openapi")
            return 1
        print(f"{DOCUMENT} is current")
        return 0
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
