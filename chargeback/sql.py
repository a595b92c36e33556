"""Plain SQL statements on the hot paths (the gateway's authorization, the ingestion API's key
lookup and batch insert).

On PostgreSQL a statement is sent with server-side parameters, so Python does not quote each
parameter into the text (Django's psycopg cursors bind on the client), and psycopg prepares it
on the connection from its fifth run (`prepare_threshold`, DB_PREPARE_THRESHOLD in the
settings; it pays with persistent connections, CONN_MAX_AGE > 0): PostgreSQL then skips
parsing and planning. Django's own (client-side binding) cursors never prepare. It runs on the
connection Django manages, inside whatever transaction is open, after the checks Django's own
cursor makes (health check, broken transaction); Django's query log and execute wrappers do
not see it, so keep it to hot statements that need no debugging aid. Elsewhere (SQLite) it is
Django's cursor."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


def _db():
    """This thread's default connection wrapper itself: `django.db.connection` is a proxy that
    looks it up again on every attribute read (a dozen times a statement on the hot path)."""
    return connections[DEFAULT_DB_ALIAS]


def fetch_one(sql: str, params: Sequence[Any]) -> tuple | None:
    """Run `sql` (with %s placeholders: a SELECT, or a write RETURNING columns) and return its
    first row, or None."""
    return _run(sql, params, wait=True)


def send(sql: str, params: Sequence[Any]) -> None:
    """Run `sql` and read nothing back. Inside `pipeline()` on PostgreSQL it is sent and not
    waited for: its answer is read with the next statement whose result is read, or at the
    block's end, and an error it raises (a unique constraint) is raised there. Elsewhere it
    waits, and raises at the call."""
    _run(sql, params, wait=False)


@contextmanager
def pipeline() -> Iterator[None]:
    """On PostgreSQL, psycopg's pipeline mode on the connection for the block: the answers of
    statements that need none (`send`) are read with the next one that does, or together at the
    block's end, so four writes cost one wait for the server, not four.
    Use it inside `transaction.atomic()`: an error of a statement not waited for is raised at
    the block's end at the latest, inside the transaction, which then rolls back (outside,
    a savepoint would be released before the error arrived). Elsewhere (SQLite) the block runs
    as it would without it."""
    db = _db()
    if db.vendor != "postgresql":
        yield
        return
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors, db.connection.pipeline():
        yield


def _run(sql: str, params: Sequence[Any], *, wait: bool) -> tuple | None:
    db = _db()
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() if wait else None
    import psycopg  # noqa: PLC0415 (needed on PostgreSQL only; SQLite installs skip it)

    db.close_if_health_check_failed()
    db.validate_no_broken_transaction()
    db.ensure_connection()
    with db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
        cursor.execute(sql, params)
        # (In pipeline mode the result is not in before fetchone asks for it.)
        return cursor.fetchone() if wait else None


class Columns:
    """A model's concrete columns in a plain SELECT (`table_alias."column"`, ...) and the
    instances built back from a slice of its row, each value through its field's database
    converters as the ORM would (so a plain statement can read several models in one row)."""

    def __init__(self, model: type, alias: str) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.sql = ", ".join(f'{alias}."{f.column}"' for f in self.fields)
        self.width = len(self.fields)
        self.attnames = [f.attname for f in self.fields]
        self._converters: dict[str, list] = {}

    def build(self, values: Sequence[Any]) -> Any:
        """The instance from `values` (this model's columns, in order)."""
        db = _db()
        converters = self._converters.get(db.vendor)
        if converters is None:
            converters = self._converters[db.vendor] = [
                [*db.ops.get_db_converters(f.cached_col), *f.get_db_converters(db)]
                for f in self.fields
            ]
        converted = []
        for value, funcs, f in zip(values, converters, self.fields, strict=True):
            for func in funcs:
                value = func(value, f.cached_col, db)
            converted.append(value)
        return self.model.from_db(db.alias, self.attnames, converted)


class Insert:
    """What `Model.save()` sends for a new row, as one plain statement: every concrete column
    but the auto primary key, each value prepared by its field (`pre_save`, then
    `get_db_prep_save`: auto_now_add times, Decimal places, JSON), `RETURNING` the new id. No
    signal is sent (the models written this way have no receivers) and the model's own
    `save()` is not called: use it for new append-only rows on hot paths (ledger entries,
    reservations, audit events, gateway decisions)."""

    def __init__(self, model: type) -> None:
        meta = model._meta
        self.fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
        columns = ", ".join(f'"{f.column}"' for f in self.fields)
        marks = ", ".join(["%s"] * len(self.fields))
        self.sql = (
            f'INSERT INTO "{meta.db_table}" ({columns}) VALUES ({marks}) '  # noqa: S608 (names from the model)
            f'RETURNING "{meta.pk.column}"'
        )

    def save(self, obj: Any, *, wait: bool = True) -> Any:
        """Insert `obj` (a new instance) and give it its id; returns it. `wait=False` sends
        the row without reading its id back (see `send`): `obj.pk` stays None, so the instance
        is for reading only (saving it again would insert a second row)."""
        db = _db()
        values = [f.get_db_prep_save(f.pre_save(obj, True), db) for f in self.fields]
        if wait:
            obj.pk = fetch_one(self.sql, values)[0]
        else:
            send(self.sql, values)
        obj._state.adding, obj._state.db = False, db.alias
        return obj


class Update:
    """`obj.save(update_fields=...)` for the `fields` named, as one plain statement by id."""

    def __init__(self, model: type, *fields: str) -> None:
        meta = model._meta
        self.fields = [meta.get_field(name) for name in fields]
        assignments = ", ".join(f'"{f.column}" = %s' for f in self.fields)
        self.pk = meta.pk
        self.sql = f'UPDATE "{meta.db_table}" SET {assignments} WHERE "{meta.pk.column}" = %s'  # noqa: S608

    def save(self, obj: Any) -> None:
        """Sent, not waited for (see `send`): an UPDATE by id answers nothing to wait for."""
        db = _db()
        values = [f.get_db_prep_save(getattr(obj, f.attname), db) for f in self.fields]
        send(self.sql, [*values, self.pk.get_db_prep_save(obj.pk, db)])
