"""`/health/` with a real broker and worker (issue 15): the worker answers the ping through
Redis within the check's one-second timeout."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _get(path: str):
    try:
        return Client().get(path, HTTP_ACCEPT="application/json")
    finally:
        connection.close()  # this thread's own connection


def test_health_pings_the_running_worker(celery_worker):
    # The health view is async. When the browser tests ran earlier in the session,
    # pytest-playwright's session event loop is still running on this thread, and Django
    # cannot run an async view from inside it; a thread of its own has no loop, as a gunicorn
    # thread in production. (The database is committed: transaction=True.)
    with ThreadPoolExecutor(max_workers=1) as pool:
        response = pool.submit(_get, "/health/").result(timeout=60)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "Database(alias='default')": "OK",
        "Workers()": "OK",
        "IngestBacklog()": "OK",
    }
