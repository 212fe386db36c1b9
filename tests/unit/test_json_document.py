"""The lossless JSON document encoding (issue 14, item 2): any JSON round-trips, and what is
stored on PostgreSQL never holds a NUL or a lone surrogate."""

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from payment_lib.db.json_document import MARK, from_stored, to_storable

texts = st.text(alphabet=st.characters(codec=None), max_size=8) | st.sampled_from(
    ["\x00", "\ud800", MARK, MARK + "x", "a\x00b"]
)
documents = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=20,
)


@given(documents)
def test_any_document_round_trips_and_is_storable(document):
    stored = json.loads(json.dumps(to_storable(document)))
    assert from_stored(stored) == document
    assert not re.search("[\x00\ud800-\udfff]", json.dumps(stored, ensure_ascii=False))


def test_an_ordinary_document_is_stored_as_it_is():
    document = {"id": "evt_1", "data": {"object": {"name": "Zoë 😀"}}}
    assert to_storable(document) is document


def test_text_that_needs_no_escaping_is_storable_as_written():
    from payment_lib.db.json_document import MARK, storable_as_written

    assert storable_as_written(json.dumps([{"a": "plain", "b": [1, 2.5, None]}]))
    assert storable_as_written(json.dumps({"name": "Zoë"}))
    for unstorable in ("a\x00b", "\ud800", MARK + "x", {MARK: 1}):
        assert not storable_as_written(json.dumps([{"payload": unstorable}])), unstorable


@given(documents)
def test_a_document_storable_as_written_is_what_to_storable_keeps(document):
    from payment_lib.db.json_document import storable_as_written

    if storable_as_written(json.dumps(document)):
        assert to_storable(document) is document
