"""Batches posted to the API are queued by the web process's scheduler thread (several in one
message when they come together) and processed by a real worker: every event counted once."""

import json
import threading

import pytest
from django.test import Client

from chargeback.pricing.books import load_default_prices
from chargeback.tenancy.scoping import within
from chargeback.usage.keys import create_key
from chargeback.usage.models import IngestBatch, UsageEvent
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _body(start: int, n: int) -> bytes:
    return "\n".join(
        json.dumps(
            {
                "request_id": f"api-{i}",
                "occurred_at": "2026-10-03T14:22:05Z",
                "provider": "openai",
                "model": "gpt-4o-mini",
                "input_tokens": 100 + i,
                "output_tokens": 10,
            }
        )
        for i in range(start, start + n)
    ).encode()


def test_posted_batches_are_processed_by_the_worker(celery_worker, org_a):
    with within(org_a):
        load_default_prices(org_a, actor="test")
        _key, secret = create_key(organization=org_a, name="gateway", actor="test")
    answers: list[int] = []

    def post(start: int) -> None:
        response = Client().generic(
            "POST", "/api/v1/usage-events", _body(start, 50),
            content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Bearer {secret}",
        )  # fmt: skip
        assert response.status_code == 202
        answers.append(response.json()["batch_id"])

    threads = [threading.Thread(target=post, args=(i * 50,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    post(0)  # a replay of the first batch: 50 duplicates
    with within(org_a):
        assert wait_for(
            lambda: not IngestBatch.objects.filter(pk__in=answers).exclude(status="done").exists(),
            timeout=120,
        )
        batches = IngestBatch.objects.filter(pk__in=answers)
        assert sum(b.accepted for b in batches) == 400
        assert sum(b.duplicates for b in batches) == 50
        assert UsageEvent.objects.filter(organization=org_a).count() == 400
