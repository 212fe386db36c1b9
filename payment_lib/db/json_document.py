"""JSON documents stored losslessly on both databases.

SQLite keeps JSON as text, so any string survives. PostgreSQL's JSONB refuses two things valid
JSON may hold: the NUL character (``\\u0000``) and lone UTF-16 surrogates (``\\ud800``). A
document holding either is stored wrapped, ``{MARK: document}``, with every string that holds
one of them (or starts with ``MARK``) replaced by ``MARK`` + its JSON text; reading unwraps it.
Documents that need nothing (nearly all) are stored as they are, and reading checks one key.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

MARK = "\ue000json:"  # a private-use character: Stripe never sends it
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The same, as json.dumps (ASCII) writes it: a quick test on the whole document.
_UNSTORABLE_TEXT = re.compile(r"\\u0000|\\ud[89a-f]|\\ue000json:")
# The same in any JSON text: the characters themselves (a NUL only in a text that is not UTF-8
# JSON) and a byte-order mark; escapes in either case (looked for only if there is a \u).
_UNSTORABLE_RECEIVED = re.compile("[\x00\ue000\ufeff]")
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F]|[eE]000)")


def _escape(node: Any) -> Any:
    if isinstance(node, str):
        if _UNSTORABLE.search(node) or node.startswith(MARK):
            return MARK + json.dumps(node)
        return node
    if isinstance(node, dict):
        return {_escape(key): _escape(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_escape(item) for item in node]
    return node


def _unescape(node: Any) -> Any:
    if isinstance(node, str):
        return json.loads(node[len(MARK) :]) if node.startswith(MARK) else node
    if isinstance(node, dict):
        return {_unescape(key): _unescape(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_unescape(item) for item in node]
    return node


def _needs_escaping(node: Any) -> bool:
    if isinstance(node, str):
        return bool(_UNSTORABLE.search(node)) or node.startswith(MARK)
    if isinstance(node, dict):
        return any(_needs_escaping(k) or _needs_escaping(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_needs_escaping(item) for item in node)
    return False


def to_storable(document: Any) -> Any:
    """``document`` as JSONB can hold it (unchanged when it already can)."""
    wrapped = isinstance(document, dict) and MARK in document
    if not wrapped and not (
        _UNSTORABLE_TEXT.search(json.dumps(document)) and _needs_escaping(document)
    ):
        return document
    return {MARK: _escape(document)}


def storable_as_written(text: str) -> bool:
    """Whether JSON text, as ``json.dumps`` writes it (ASCII), can be stored as it is: True
    when ``to_storable`` would change none of the documents in it (a quick test; False may
    still need nothing)."""
    return not _UNSTORABLE_TEXT.search(text)


def storable_as_received(text: str) -> bool:
    """Whether a JSON object's text, as it was received (any valid JSON writing), can be stored
    as it is: nothing ``to_storable`` would change, no byte-order mark (a quick test; False may
    still need nothing)."""
    return (
        text[:1] == "{"
        and not _UNSTORABLE_RECEIVED.search(text)
        and ("\\u" not in text or not _UNSTORABLE_ESCAPE.search(text))
    )


def from_stored(stored: Any) -> Any:
    """The document ``to_storable`` was given."""
    if isinstance(stored, dict) and len(stored) == 1 and MARK in stored:
        return _unescape(stored[MARK])
    return stored


class JsonDocument(TypeDecorator[Any]):
    """JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite; lossless on both."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(JSONB() if dialect.name == "postgresql" else JSON())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "postgresql":
            return value
        return to_storable(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "postgresql":
            return value
        return from_stored(value)
