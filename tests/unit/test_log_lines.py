"""Log lines as ``configure_logging`` renders them: no card number in any form, whatever field,
depth, layout or object holds it, in the text written and in the JSON a reader decodes; and
every line keeps its trace id, level, time and fields, as structlog's own JSON renders them."""

import datetime as dt
import io
import json
import uuid

import pytest
import structlog
from card_numbers import card_layouts, cards_in_text, embedded_cards
from hypothesis import assume, given
from hypothesis import strategies as st

from payment_lib.domain.card_data import (
    REDACTED,
    contains_card_number,
    holds_card_number,
    json_may_hold_card_number,
    written_json_holds_no_card_number,
)
from payment_lib.log_lines import utc_iso
from payment_lib.observability import configure_logging, trace

CARD = "4242 4242 4242 4242"


class ReprHolds:
    """An object whose text is harmless but whose repr (what JSON lines show) holds a card."""

    def __str__(self) -> str:
        return "a harmless text"

    def __repr__(self) -> str:
        return f"ReprHolds(card={CARD})"


class StrHolds:
    def __str__(self) -> str:
        return f"card {CARD}"

    __repr__ = __str__


def _lines(log_format: str, emit) -> tuple[str, list[str]]:
    stream = io.StringIO()
    configure_logging("debug", stream=stream, log_format=log_format)
    log = structlog.get_logger("test")
    with trace() as trace_id:
        emit(log)
    return trace_id, stream.getvalue().splitlines()


def _json_lines(emit) -> tuple[str, list[dict]]:
    trace_id, lines = _lines("json", emit)
    assert cards_in_text("\n".join(lines)) == [], lines
    documents = [json.loads(line) for line in lines]
    assert not holds_card_number(documents), documents
    return trace_id, documents


CASES = {
    "message": lambda log, card: log.info(f"paid with {card}"),
    "a field": lambda log, card: log.info("paid", note=card),
    "a key": lambda log, card: log.info("paid", **{f"k{card}": 1}),
    "nested in a dict": lambda log, card: log.info("paid", detail={"a": {"b": card}}),
    "nested in a list": lambda log, card: log.info("paid", items=["x", [1, card]]),
    "in a tuple": lambda log, card: log.info("paid", items=("x", card)),
    "in a set": lambda log, card: log.info("paid", items={card}),
    "a bound context value": lambda log, card: log.bind(note=card).info("paid"),
    "a contextvar": lambda log, card: _with_contextvar(log, card),
    "an exception message": lambda log, card: _log_exception(log, card),
    "an error's field": lambda log, card: log.error("failed", error=ValueError(card)),
}


def _with_contextvar(log, card: str) -> None:
    with structlog.contextvars.bound_contextvars(user_note=card):
        log.info("paid")


def _log_exception(log, card: str) -> None:
    try:
        raise ValueError(f"declined: {card}")
    except ValueError:
        log.exception("payment failed")


@pytest.mark.parametrize("where", CASES)
@given(card=embedded_cards())
def test_no_card_number_reaches_a_json_line_wherever_it_is(where, card):
    _json_lines(lambda log: CASES[where](log, card))


@pytest.mark.parametrize("where", CASES)
@given(card=embedded_cards())
def test_no_card_number_reaches_a_console_line_wherever_it_is(where, card):
    _, lines = _lines("console", lambda log: CASES[where](log, card))
    assert cards_in_text("\n".join(lines)) == [], lines


@given(card=card_layouts())
def test_numbers_that_are_card_numbers_are_redacted(card):
    assume(not card.startswith("0"))
    digits = int("".join(c for c in card if c.isdigit()))
    _, (line,) = _json_lines(lambda log: log.info("paid", pan=digits, ratio=digits / 10**4))
    assert line["pan"] == REDACTED


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_an_object_whose_repr_holds_a_card_number_is_scrubbed(log_format):
    _, lines = _lines(log_format, lambda log: log.info("paid", thing=ReprHolds()))
    assert cards_in_text("\n".join(lines)) == [], lines


def test_an_object_whose_text_holds_a_card_number_shows_that_text_redacted():
    _, (line,) = _json_lines(lambda log: log.info("paid", thing=StrHolds()))
    assert line["thing"] == f"card {REDACTED}"


@pytest.mark.parametrize(
    "separator", ["\t", "\u00a0", "\u2003", "\n"], ids=["tab", "nbsp", "em space", "newline"]
)
def test_separators_json_escapes_are_still_seen(separator):
    card = separator.join(["4242", "4242", "4242", "4242"])
    _, (line,) = _json_lines(lambda log: log.info("paid", note=f"card {card}", thing=[card]))
    assert line["note"] == f"card {REDACTED}"


def test_a_line_keeps_its_trace_id_level_time_and_fields_in_structlogs_order():
    user = str(uuid.uuid4())

    def emit(log):
        with structlog.contextvars.bound_contextvars(user_id=user, idempotency_key="k-1"):
            log.info("payment attempt", payment_id="p-1", amount=2000, currency="usd",
                     ratio=0.5, ok=True, none=None, items=[1, "a"], thing=uuid.UUID(int=7))

    trace_id, (line,) = _json_lines(emit)
    keys = list(line)
    assert keys[:9] == [
        "payment_id", "amount", "currency", "ratio", "ok", "none", "items", "thing", "event"]
    assert set(keys[9:12]) == {"idempotency_key", "trace_id", "user_id"}  # the context's order
    assert keys[12:] == ["level", "timestamp"]
    assert line["trace_id"] == trace_id and line["user_id"] == user
    assert line["thing"] == repr(uuid.UUID(int=7))  # structlog's JSON fallback: repr
    assert (line["level"], line["event"], line["amount"], line["items"]) == (
        "info", "payment attempt", 2000, [1, "a"])
    assert line["timestamp"].endswith("Z") and line["timestamp"][10] == "T"


@given(text=st.text(max_size=60))
def test_a_line_without_a_card_number_is_what_structlogs_json_renderer_writes(text):
    """The fast path (render, see that the line cannot hold a card, write it) changes nothing."""
    if holds_card_number(text):
        return
    _, (line,) = _json_lines(lambda log: log.info("paid", note=text, n=42))
    assert line["note"] == text


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from(["4242 4242 4242 4242", "\\u0034", "1e+16", "x5e-1"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)


@given(value=JSON_VALUES)
def test_what_the_written_json_test_passes_holds_no_card_number_written_or_parsed(value):
    text = json.dumps(value)
    if written_json_holds_no_card_number(text):
        assert not contains_card_number(text) and not holds_card_number(json.loads(text))
    if not json_may_hold_card_number(text):
        assert written_json_holds_no_card_number(text)  # what the cheap test lets go, it does


@pytest.mark.parametrize(
    "line",
    [
        '{"payment_id": "ee540e87-27f5-4d64-9903-233057153047", "event": "x"}',
        '{"trace_id": "0b27ee7376014388942b49df77fef1f1", "n": 2000}',
        '{"payment_id": "f9323ab0-0072-4405-b6b3-212406f9788f"}',
    ],
)
def test_ids_with_runs_of_digits_are_not_card_numbers(line):
    assert json_may_hold_card_number(line)  # a candidate for the cheap test
    assert written_json_holds_no_card_number(line)  # not a card number by the rule


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@given(ns=st.integers(0, 253_402_300_799_999_999_999) | st.integers(0, 2_000_000_000).map(
    lambda seconds: seconds * 1_000_000_000))
def test_a_lines_time_is_what_structlogs_iso_utc_timestamper_writes(ns):
    """TimeStamper(fmt="iso", utc=True): datetime.now(UTC), microseconds floored, isoformat
    (no fraction when it is zero), "Z" for "+00:00"."""
    moment = EPOCH + dt.timedelta(microseconds=ns // 1000)
    assert utc_iso(ns) == moment.isoformat().replace("+00:00", "Z")


def test_a_lines_time_is_now():
    before = dt.datetime.now(dt.UTC)
    _, (line,) = _json_lines(lambda log: log.info("paid"))
    stamped = dt.datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
    assert before <= stamped <= dt.datetime.now(dt.UTC)
