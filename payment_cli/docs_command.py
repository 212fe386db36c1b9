"""``payment-cli docs [TOPIC]``: the guides installed with the package, readable anywhere."""

from __future__ import annotations

from pathlib import Path

import click

from payment_cli.output import emit, json_option
from payment_lib import InvalidRequest


def docs_directory() -> Path:
    """Where the guides are: shipped inside the wheel, or the repository's docs/."""
    here = Path(__file__).resolve().parent
    packaged = here / "_docs"
    return packaged if packaged.is_dir() else here.parent / "docs"


def topics() -> dict[str, Path]:
    """Each guide by topic: its file name, lower case, without .md (README.md is readme)."""
    found = sorted(docs_directory().glob("*.md"))
    readme = docs_directory() / "README.md"
    if not readme.exists():
        readme = docs_directory().parent / "README.md"
    if readme.exists():
        found.append(readme)
    return {path.stem.lower(): path for path in found}


@click.command("docs")
@click.argument("topic", required=False)
@json_option
def docs(topic: str | None, as_json: bool) -> None:
    """Print an installed guide (TOPIC), or list the topics.

    readme: configuration (PAYMENT_* variables); cli: this program, exit codes included;
    library, webhooks, deployment, security, emulator, ledger, architecture.

    Example: payment-cli docs cli
    """
    available = topics()
    if topic is None:
        emit({"topics": sorted(available)}, "\n".join(sorted(available)), as_json=as_json)
        return
    path = available.get(topic.lower())
    if path is None:
        raise InvalidRequest(
            f"No guide named {topic[:40]!r}: the topics are {', '.join(sorted(available))}.",
            param="topic",
        )
    text = path.read_text(encoding="utf-8")
    emit({"topic": topic.lower(), "text": text}, text.rstrip("\n"), as_json=as_json)
