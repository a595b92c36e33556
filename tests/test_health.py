"""The health endpoint (issue 15): `/health/` for a load balancer or monitor, no sign-in, no
tenant data; 200 when the database answers and no ingest batch waited too long, 500 with a
short reason otherwise. `/health/web/` checks the database alone."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from health_check.checks import Database

from chargeback.tenancy.scoping import within
from chargeback.usage.health import IngestBacklog, Workers, health_checks
from chargeback.usage.ingest import create_batch
from chargeback.usage.models import IngestBatch


def test_health_answers_without_sign_in_and_without_tenant_data(client, org_a, org_b):
    response = client.get("/health/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body.values()) == {"OK"}
    assert set(body) == {"Database(alias='default')", "Workers()", "IngestBacklog()"}
    assert any(k.startswith("IngestBacklog") for k in body)
    text = response.content.decode()
    for secret in ("alpha", "bravo", "Bravo Secretcorp", "Alpha Industries"):
        assert secret not in text
    assert "no-store" in response["Cache-Control"]
    plain = client.get("/health/?format=text")
    assert plain.status_code == 200 and "Database" in plain.content.decode()
    assert client.get("/health/web/", HTTP_ACCEPT="application/json").json() == {
        "Database(alias='default')": "OK"
    }


def test_an_old_unfinished_batch_fails_the_check_with_a_short_reason(client, org_b, monkeypatch):
    from chargeback.usage import ingest

    monkeypatch.setattr(ingest, "schedule", lambda batch_id: None)
    with within(org_b):
        batch = create_batch(organization=org_b, payload=b"{}\n", fmt="ndjson", source="t")
        IngestBatch.objects.filter(pk=batch.pk).update(
            created_at=timezone.now() - dt.timedelta(minutes=45)
        )
    response = client.get("/health/", HTTP_ACCEPT="application/json")
    assert response.status_code == 500
    body = response.json()
    reason = next(v for k, v in body.items() if k.startswith("IngestBacklog"))
    assert reason == "Unavailable: the oldest unfinished ingest batch is 45 min old"
    assert "bravo" not in response.content.decode()
    # A fresh one is fine.
    with within(org_b):
        IngestBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now())
    assert client.get("/health/", HTTP_ACCEPT="application/json").status_code == 200


def test_the_workers_are_pinged_with_a_short_timeout_when_there_is_a_broker():
    assert health_checks() == [Database, Workers, IngestBacklog]
    workers = Workers()
    assert workers.timeout == dt.timedelta(seconds=1)
    assert repr(workers) == "Workers()"  # nothing about the broker's address
    workers.app.conf.task_always_eager = True  # as in the embedded set-up (and these tests)
    workers.run()  # no broker to ping: tasks run in-process
