"""One rule for raw card numbers (PANs): found in any text, refused on input, scrubbed elsewhere.

The rule: 12 to 19 digits that pass the Luhn check, written in any layout: one run, or groups of
any sizes parted by spaces (any whitespace), dashes, dots, slashes or underscores, one to three
of them per gap, mixed within a number. Inside a longer sequence of such groups (a CVC after the
number, an order number before it) any consecutive groups holding 12-19 digits count, so a card
number cannot hide behind a neighbour. A run of more than 19 digits with nothing between them is
not a card number, nor are digits glued to letters on both sides of a group (``x4242...y`` is
found: letters end a group, they do not join one).

Identifiers are not card numbers: UUIDs (dashed or not) and hex strings of 32 characters or more
(digests) are set aside before looking, since about 1 in 300 random UUIDs holds a Luhn-valid run.
A card number glued to hex letters so that the whole reads as such an identifier is therefore
missed; one parted from it by anything else is found.

The same rule decides what input is refused (``card_input.refuse_card_numbers``), what log
values are scrubbed and what is removed from stored webhook payloads and error messages
(``redact_value``, ``redact_card_numbers``). This module imports nothing of ours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"
MIN_DIGITS, MAX_DIGITS = 12, 19

_SEPARATOR = r"[\s./_\-]"
# A stretch of digits and separators, starting with a digit, long enough to hold 12 digits: the
# cheap test (one character class, no backtracking) that lets almost every text go at once.
_CANDIDATE = re.compile(rf"[0-9][0-9\s./_\-]{{{MIN_DIGITS - 1},}}")
# A maximal sequence of digit groups joined by one to three separators.
_RUN = re.compile(rf"[0-9]+(?:{_SEPARATOR}{{1,3}}[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
_IDENTIFIER = re.compile(
    r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
    r"[0-9A-Fa-f]{12}|[0-9A-Fa-f]{32,})(?![0-9A-Fa-f])"
)
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit doubled, its digits added (Luhn)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        total += _DOUBLED[value] if index & 1 else value
    return total % 10 == 0


def _hide_identifiers(text: str) -> str:
    """``text`` with each UUID or long hex string replaced by as many letters (positions kept;
    a letter ends a group of digits and joins none)."""
    return _IDENTIFIER.sub(lambda m: "x" * len(m.group()), text)


def _spans(text: str) -> list[tuple[int, int]]:
    """Where the card numbers in ``text`` are: (start, end) pairs, in order, not overlapping."""
    if not _CANDIDATE.search(text):
        return []
    masked = _hide_identifiers(text)
    runs = (
        run
        for candidate in _CANDIDATE.finditer(masked)
        for run in _RUN.finditer(masked, *candidate.span())
        if run.end() - run.start() >= MIN_DIGITS
    )
    spans: list[tuple[int, int]] = []
    for run in runs:
        groups = [(g.start(), g.end(), g.group()) for g in _GROUP.finditer(masked, *run.span())]
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += groups[last][2]
                if len(digits) > MAX_DIGITS:
                    break
                if len(digits) >= MIN_DIGITS and _luhn_valid(digits):
                    start, end = groups[first][0], groups[last][1]
                    if spans and start <= spans[-1][1]:
                        start = spans[-1][0]
                        end = max(end, spans.pop()[1])
                    spans.append((start, end))
    return spans


# What parsing a JSON text may turn into card-number candidates besides the candidates in the
# text itself: an escape (``\u0034`` is a digit once parsed) and a number with an exponent
# (``10000000004e5`` parses to 16 digits; not the "3e" inside an id).
_EXPONENT = re.compile(r"[:,\[]\s*-?[0-9]+(?:\.[0-9]+)?[eE]")


def json_may_hold_card_number(text: str) -> bool:
    """False when the JSON document ``text`` holds no card number in any string, key or
    number once parsed (no candidate, escape or exponent in it): the cheap test that lets a
    document be kept as parsed, without walking it. Three searches, cheapest first (one
    search of the three patterns joined cost half as much again)."""
    return (
        "\\" in text
        or _CANDIDATE.search(text) is not None
        or _EXPONENT.search(text) is not None
    )


def written_json_holds_no_card_number(text: str) -> bool:
    """True when the JSON text ``text``, as Python's json module wrote it (a log line), holds
    no card number, neither as written nor once parsed: it has no escape and no exponent (every
    exponent Python writes is signed, ``1e+16``: the exponent's test runs only when the text
    has ``e+`` or ``e-``), so a reader parses what is written; and the rule finds no card
    number in the text (almost always settled by the cheap candidate test; a UUID or a hex id
    with a run of digits goes through the whole rule). JSON's quotes, colons and commas part
    its values, so no number spans two of them."""
    if "\\" in text or (("e+" in text or "e-" in text) and _EXPONENT.search(text)):
        return False
    return not _spans(text)


def contains_card_number(text: str) -> bool:
    """True when ``text`` holds a card number in any layout (see the module's rule)."""
    return bool(_spans(text))


def redact_card_numbers(text: str) -> str:
    """``text`` with every card number replaced by ``[REDACTED]``."""
    spans = _spans(text)
    if not spans:
        return text
    pieces, last = [], 0
    for start, end in spans:
        pieces += [text[last:start], REDACTED]
        last = end
    return "".join([*pieces, text[last:]])


_SMALL = 10 ** (MIN_DIGITS - 1)  # integers below it have too few digits to be a card number


def _number_holds_card(value: int | float) -> bool:
    if isinstance(value, int):
        return not -_SMALL < value < _SMALL and contains_card_number(str(value))
    return contains_card_number(repr(value))


def redact_value(value: Any) -> Any:
    """``value`` with card numbers replaced at any depth: in strings, mapping keys and values,
    list and tuple items, and numbers (a number that holds one becomes ``[REDACTED]``).

    Other objects are kept unless their text holds a card number; then that text, redacted.
    """
    if isinstance(value, str):
        return redact_card_numbers(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return REDACTED if _number_holds_card(value) else value
    if isinstance(value, Mapping):
        return {redact_value(key): redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    text = str(value)
    return redact_card_numbers(text) if contains_card_number(text) else value


def _texts(value: object, out: list[str]) -> None:
    """Append to ``out`` every text in ``value`` that could hold a card number."""
    if isinstance(value, str):
        out.append(value)
    elif type(value) is dict:  # before the checks against ABCs, which cost more
        for key, item in value.items():
            _texts(key, out)
            _texts(item, out)
    elif value is None or isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -_SMALL < value < _SMALL:
            out.append(str(value))
    elif isinstance(value, float):
        out.append(repr(value))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _texts(key, out)
            _texts(item, out)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _texts(item, out)
    else:
        out.append(str(value))


def holds_card_number(value: object) -> bool:
    """True when ``value`` holds a card number anywhere: text, keys, items, numbers, or the
    text of any other object. One search over all of it: the fast path of every input check."""
    if isinstance(value, str):
        return bool(_spans(value))
    out: list[str] = []
    _texts(value, out)
    # NUL parts the pieces: it is no separator, so no number spans two of them.
    return contains_card_number("\x00".join(out))
