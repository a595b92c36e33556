"""One plain SQL statement on the hot path (the ingestion API's key lookup and batch insert).

On PostgreSQL the statement is sent with server-side parameters, so Python does not quote each
parameter into the text (Django's psycopg cursors bind on the client), and psycopg prepares it
on the connection from its fifth run (its `prepare_threshold`; with persistent connections,
CONN_MAX_AGE > 0): PostgreSQL then skips parsing and planning. It runs on the connection Django
manages, inside whatever transaction is open, after the checks Django's own cursor makes
(health check, broken transaction); Django's query log and execute wrappers do not see it, so
keep it to hot statements that need no debugging aid. Elsewhere (SQLite) it is Django's
cursor."""

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
    import psycopg  # noqa: PLC0415 (needed on PostgreSQL only; SQLite installs skip it)

    connection.close_if_health_check_failed()
    connection.validate_no_broken_transaction()
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if cursor.description else None
