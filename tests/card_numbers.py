"""Card numbers for the tests: Luhn-valid PANs in any layout and embedding (hypothesis), and a
scan of a whole database for any of them.

The layouts are the ways people (and the fault-injection run of issue 15) write a card number:
one run, or groups of any size joined by spaces, dashes, dots, slashes, underscores, tabs or
no-break spaces, single or doubled, mixed within one number. The embeddings put text, digits
included, on either side, parted from the number by a character that is not a digit.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator

import sqlalchemy as sa
from hypothesis import strategies as st

from payment_lib.domain.card_data import contains_card_number

SEPARATORS = [" ", "-", ".", "/", "_", "  ", "\t", "\u00a0", " - ", "__", "--"]
# Characters that may part a card number from the text around it: never a digit, and never a
# hex letter (a card glued to hex digits reads as part of a hex identifier).
BOUNDARIES = [" ", ":", "=", "#", "(", ")", "[", "'", '"', "x", "k", "z", "Q", "-", "_", ".", "/"]
AROUND = st.text(alphabet="ghijklmnopqrstuvwxyz ABC:#=+-_./,;0123456789", max_size=24)


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body`` + digit pass the Luhn check."""
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char)
        if index % 2 == 0:  # doubled: the check digit will take position 0
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return str((10 - total % 10) % 10)


@st.composite
def card_digits(draw: st.DrawFn) -> str:
    """12-19 digits that pass Luhn."""
    length = draw(st.integers(12, 19))
    body = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=length - 1,
                                 max_size=length - 1)))
    return body + luhn_check_digit(body)


@st.composite
def card_layouts(draw: st.DrawFn) -> str:
    """A card number cut into groups of any sizes, each gap with its own separator (or none)."""
    digits = draw(card_digits())
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=len(digits) - 1)))
    pieces, last = [], 0
    for cut in cuts:
        pieces += [digits[last:cut], draw(st.sampled_from(SEPARATORS))]
        last = cut
    return "".join([*pieces, digits[last:]])


@st.composite
def embedded_cards(draw: st.DrawFn) -> str:
    """A laid-out card number inside text (possibly empty on either side)."""
    card = draw(card_layouts())
    before = draw(AROUND)
    after = draw(AROUND)
    if before:
        before += draw(st.sampled_from(BOUNDARIES))
    if after:
        after = draw(st.sampled_from(BOUNDARIES)) + after
    return before + card + after


@functools.lru_cache(maxsize=64)
def _tables(url: str) -> list[sa.Table]:
    """Every table of the database at ``url``, as it is (reflected once per database)."""
    engine = sa.create_engine(url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        return list(metadata.sorted_tables)
    finally:
        engine.dispose()


def database_texts(url: str) -> Iterator[tuple[str, str]]:
    """Every value of every column of every table (JSON as JSON text): ``(where, text)``."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            for table in _tables(url):
                for row in connection.execute(sa.select(table)):
                    for column, value in row._mapping.items():
                        if value is None:
                            continue
                        text = (
                            json.dumps(value)
                            if isinstance(value, dict | list)
                            else str(value)
                        )
                        yield f"{table.name}.{column}", text
    finally:
        engine.dispose()


def cards_in_database(url: str) -> list[str]:
    """Where a card number is stored: ``table.column: value`` for each hit (none, we hope)."""
    return [f"{where}: {text!r}" for where, text in database_texts(url)
            if contains_card_number(text)]


def cards_in_text(text: str) -> list[str]:
    """The lines of ``text`` that hold a card number."""
    return [line for line in text.splitlines() if contains_card_number(line)]


def random_uuid() -> str:
    return str(uuid.uuid4())
