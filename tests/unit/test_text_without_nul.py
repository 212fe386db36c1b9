"""The engine's NUL replacement (``db/engine.py``): what a statement's parameters become.

PostgreSQL's text cannot hold NUL: each becomes U+FFFD in every text parameter, whatever the
shape psycopg gets them in; parameters without one are passed on as they are (the same
object: the request path's ~25 parameters a statement are only looked at).
"""

from __future__ import annotations

import uuid

from payment_lib.db.engine import _replace_nul


def test_named_parameters_without_nul_are_the_same_object():
    params = {"a": "text", "b": 5, "c": None, "d": uuid.uuid4(), "e": b"\x00", "f": {"x": "\x00"}}
    assert _replace_nul(params) is params


def test_named_parameters_with_nul_are_a_copy_with_each_replaced():
    params = {"a": "one\x00two\x00", "b": 5, "c": "plain", "d": b"\x00"}
    assert _replace_nul(params) == {"a": "one\ufffdtwo\ufffd", "b": 5, "c": "plain", "d": b"\x00"}
    assert params["a"] == "one\x00two\x00"


def test_positional_and_many_rows():
    assert _replace_nul(("a\x00", 1)) == ("a\ufffd", 1)
    assert _replace_nul(["a\x00", None]) == ["a\ufffd", None]
    plain = ("a", 1)
    assert _replace_nul(plain) is plain
    rows = [{"a": "x\x00"}, {"a": "y"}]
    assert _replace_nul(rows) == [{"a": "x\ufffd"}, {"a": "y"}]
    assert _replace_nul(()) == () and _replace_nul(None) is None


def test_a_str_subclass_is_text_too():
    class Name(str):
        pass

    assert _replace_nul({"a": Name("x\x00")}) == {"a": "x\ufffd"}
