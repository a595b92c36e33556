"""`/health/` with a real broker and worker (issue 15): the worker answers the ping through
Redis within the check's one-second timeout."""

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_health_pings_the_running_worker(celery_worker, client):
    response = client.get("/health/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "Database(alias='default')": "OK",
        "Workers()": "OK",
        "IngestBacklog()": "OK",
    }
