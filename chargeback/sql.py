"""One plain SQL statement on the hot path (the ingestion API's key lookup and batch insert).

On PostgreSQL the statement is sent with server-side parameters and prepared on the connection
after its first few runs (psycopg's `prepare=True`): PostgreSQL then skips parsing and planning,
and Python skips quoting each parameter into the text (Django's psycopg cursors bind on the
client). It runs on the connection Django manages, inside whatever transaction is open; Django's
query log is bypassed, so keep it to statements that need no debugging aid. Elsewhere (SQLite)
it is Django's cursor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection


def fetch_one(sql: str, params: Sequence[Any]) -> tuple | None:
    """Run `sql` (with %s placeholders) and return its first row, or None."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone() if cursor.description else None
