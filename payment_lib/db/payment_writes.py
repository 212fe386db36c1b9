"""The request path's statements: a payment's two short transactions in as few statements as
the guarantees allow, each a Core statement built once per database and run on a Core
connection (``UnitOfWork.core``), without an ORM session.

Transaction 1: the user's lock (PostgreSQL), then one INSERT that counts the user's attempts
and takes the idempotency key. Transaction 2: one UPDATE that locks the payment row if it is
still pending, adds the card (or locks the known one) and writes the outcome with the card's
id (PostgreSQL: data-modifying CTEs); SQLite, which has no INSERT inside WITH, adds the card
first and links it in the UPDATE.

On PostgreSQL each transaction is one message (``db.scripts``), run in autocommit: one round
trip each, with no BEGIN or COMMIT of its own.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnDefault,
    Connection,
    Executable,
    Integer,
    Table,
    bindparam,
    exists,
    func,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from payment_lib.db.scripts import Script, run_script
from payment_lib.db.tables import Payment, PaymentMethod

PAYMENTS: Table = Payment.__table__  # type: ignore[assignment]
METHODS: Table = PaymentMethod.__table__  # type: ignore[assignment]
USER_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(
    bindparam("key", type_=BigInteger())
)


def _insert(dialect: str) -> Any:
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


def _defaults(table: Table, prefix: str) -> tuple[tuple[str, str, Any], ...]:
    """(parameter, column, Python default or None) for every column of ``table``: a statement
    that names every column gets none of SQLAlchemy's defaults, so they are applied here."""
    found = []
    for column in table.columns:
        default = column.default if isinstance(column.default, ColumnDefault) else None
        found.append((f"{prefix}{column.key}", column.key, default))
    return tuple(found)


_PAYMENT_PARAMS = _defaults(PAYMENTS, "v_")
_CARD_PARAMS = _defaults(METHODS, "c_")


def _params(columns: tuple[tuple[str, str, Any], ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """The bound parameters of ``values`` for ``columns``, unset ones by their defaults."""
    params = {}
    for name, key, default in columns:
        value = values.get(key)
        if value is None and default is not None:
            value = default.arg(None) if default.is_callable else default.arg
        params[name] = value
    return params


def user_key(user_id: uuid.UUID) -> int:
    """The key of a user's advisory lock (``USER_LOCK``; ``Locks.user`` takes the same)."""
    return int.from_bytes(user_id.bytes[:8], "big", signed=True)


@functools.cache
def _begin_script(dialect: Any, limited: bool) -> Script:
    """Transaction 1 as a script (``db.scripts``): the user's lock, then the INSERT."""
    return Script.compile(dialect, (USER_LOCK, _insert_new("postgresql", limited=limited)))


@functools.cache
def _record_script(dialect: Any, names: tuple[str, ...], with_card: bool) -> Script:
    """Transaction 2 as a script: one statement, the outcome with its card."""
    return Script.compile(dialect, _record("postgresql", names, with_card))


@functools.cache
def _insert_new(dialect: str, *, limited: bool) -> Executable:
    """INSERT INTO payments SELECT <every column> [WHERE <attempts since> < <limit>] ON
    CONFLICT (idempotency_key) DO NOTHING RETURNING id, with bound parameters ``v_<column>``
    (and ``a_user``, ``a_since``, ``a_limit``)."""
    table = PAYMENTS
    chosen = select(*[bindparam(f"v_{c.key}", type_=c.type) for c in table.columns]).where(
        true()  # SQLite needs a WHERE before ON CONFLICT
    )
    if limited:
        made = (
            select(func.count())
            .where(
                table.c.user_id == bindparam("a_user", type_=table.c.user_id.type),
                table.c.created_at >= bindparam("a_since", type_=table.c.created_at.type),
                table.c.kind == "payment",
            )
            .scalar_subquery()
        )
        chosen = chosen.where(made < bindparam("a_limit", type_=Integer()))
    statement: Executable = (
        _insert(dialect)(table)
        .from_select([c.key for c in table.columns], chosen)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(table.c.id)
    )
    return statement


def insert_pending(
    connection: Connection,
    values: Mapping[str, Any],
    *,
    attempts_since: Any = None,
    limit: int | None = None,
    lock: bool = False,
) -> bool:
    """Insert the payment whose columns are ``values`` in one statement; False, adding
    nothing, when its idempotency key is taken or, with ``limit``, when its user made
    ``limit`` attempts (kind ``payment``) since ``attempts_since``. Run it under the user's
    lock, so that the count cannot change meanwhile.

    ``lock``: take the user's lock first, the request path's transaction 1. On PostgreSQL
    the lock and the INSERT are then one script (``db.scripts``), a transaction of its own on
    a connection in autocommit (``UnitOfWork.core(autocommit=True)``); the attempts are still
    counted once the lock is held (a statement's snapshot is taken when it starts). SQLite's
    BEGIN IMMEDIATE holds the database's write lock already."""
    params = _params(_PAYMENT_PARAMS, values)
    limited = limit is not None
    if limited:
        params.update(a_user=values["user_id"], a_since=attempts_since, a_limit=limit)
    if lock and connection.dialect.name == "postgresql":
        params["key"] = user_key(values["user_id"])
        _locked, inserted = run_script(
            connection, _begin_script(connection.dialect, limited), params
        )
        return inserted is not None
    statement = _insert_new(connection.dialect.name, limited=limited)
    return connection.execute(statement, params).first() is not None


def _card_select(still_pending: Any) -> Any:
    """SELECT <every card column as ``c_<column>``> WHERE ``still_pending``."""
    return select(*[bindparam(f"c_{c.key}", type_=c.type) for c in METHODS.columns]).where(
        still_pending
    )


def _known_card() -> Any:
    return (
        select(METHODS.c.id)
        .where(METHODS.c.stripe_payment_method_id == bindparam("c_stripe_payment_method_id"))
        .scalar_subquery()
    )


def _pending_row() -> Any:
    return (PAYMENTS.c.id == bindparam("w_id")) & (PAYMENTS.c.status == bindparam("w_status"))


@functools.cache
def _record(dialect: str, names: tuple[str, ...], with_card: bool) -> tuple[Executable, ...]:
    """The statements that record a pending payment's outcome (see the module docstring), with
    bound parameters ``v_<name>``, ``w_id``, ``w_status`` and ``c_<card column>``."""
    values: dict[str, Any] = {
        name: bindparam(f"v_{name}", type_=PAYMENTS.c[name].type) for name in names
    }
    columns = [c.key for c in METHODS.columns]
    conflict = ["stripe_payment_method_id"]
    if not with_card:
        return (update(PAYMENTS).where(_pending_row()).values(values).returning(PAYMENTS.c.id),)
    if dialect == "postgresql":
        # The payment row is locked first, then the card added: the order every path takes
        # them in (a resumed attempt holds the row while it records the same card). A known
        # card is locked by ON CONFLICT DO UPDATE (a no-op: the row is left as it was), whose
        # RETURNING gives its id even when another transaction added it after this
        # statement's snapshot (DO NOTHING returns nothing then, and a second statement had
        # to look the card up again).
        locked = select(PAYMENTS.c.id).where(_pending_row()).with_for_update().cte("locked")
        adding = postgresql_insert(METHODS).from_select(
            columns, _card_select(exists(select(locked.c.id)))
        )
        added = (
            adding.on_conflict_do_update(
                index_elements=conflict,
                set_={"stripe_payment_method_id": adding.excluded.stripe_payment_method_id},
            )
            .returning(METHODS.c.id)
            .cte("added")
        )
        statement = (
            update(PAYMENTS)
            .where(PAYMENTS.c.id == locked.c.id, _pending_row())
            .values({**values, "payment_method_id": select(added.c.id).scalar_subquery()})
            .returning(PAYMENTS.c.payment_method_id)
        )
        return (statement,)
    still_pending = exists(select(PAYMENTS.c.id).where(_pending_row()))
    add = (
        sqlite_insert(METHODS)
        .from_select(columns, _card_select(still_pending))
        .on_conflict_do_nothing(index_elements=conflict)
    )
    link = (
        update(PAYMENTS)
        .where(_pending_row())
        .values({**values, "payment_method_id": _known_card()})
        .returning(PAYMENTS.c.payment_method_id)
    )
    return add, link


def record_pending(
    connection: Connection,
    payment_id: uuid.UUID,
    changes: Mapping[str, Any],
    card: Mapping[str, Any] | None,
) -> uuid.UUID | bool:
    """Write ``changes`` (``status`` and ``updated_at`` among them) to the payment if it is
    still pending, with ``card`` (a payment_methods row's columns, but its id) added unless
    known and linked; False, changing nothing, when it is not pending. Returns the card's id
    (True without a card).

    PostgreSQL: one script (``db.scripts``), its own transaction on a connection in
    autocommit, else part of the connection's transaction."""
    names = tuple(sorted(changes))
    params: dict[str, Any] = {f"v_{name}": value for name, value in changes.items()}
    params.update(w_id=payment_id, w_status="pending")
    if card is not None:
        row = {**card, "id": uuid.uuid4()}
        params.update(_params(_CARD_PARAMS, row))
    if connection.dialect.name == "postgresql":
        script = _record_script(connection.dialect, names, card is not None)
        (recorded,) = run_script(connection, script, params)
    else:
        *first, last = _record(connection.dialect.name, names, card is not None)
        for statement in first:
            connection.execute(statement, params)
        recorded = connection.execute(last, params).first()
    if recorded is None:
        return False
    if card is None:
        return True
    method_id: uuid.UUID | None = recorded[0]
    assert method_id is not None, "a recorded card is linked"
    return method_id
