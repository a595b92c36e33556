"""A request that fails leaves no organisation's scope behind (issue 15, finding 3): the
middleware and the ingestion-key views enter the scope with a context manager, so an exception
leaves it too, and the next request on the same thread starts clean."""

from __future__ import annotations

import json

import pytest
from django_scopes.state import get_scope

from chargeback.api import ingest as ingest_api
from chargeback.tenancy.scoping import within
from chargeback.usage.keys import create_key


def _active_org():
    return get_scope().get("organization")


@pytest.fixture
def failing_urls(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.tenancy.urls_errors"


def test_a_page_that_raises_leaves_no_scope_and_the_next_request_works(
    client_for, admin, failing_urls
):
    web = client_for(admin)
    web.raise_request_exception = False
    assert _active_org() is None
    for _ in range(3):
        assert web.get("/o/alpha/test-boom/").status_code == 500
        assert _active_org() is None, "the failing request left its scope behind"
        ok = web.get("/o/alpha/units/")
        assert ok.status_code == 200
        assert _active_org() is None


def test_an_ingestion_api_view_that_raises_leaves_no_scope(client, org_a, monkeypatch):
    with within(org_a):
        _key, secret = create_key(organization=org_a, name="gateway", actor="test")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    real_get = ingest_api.IngestBatchDetail.get

    def boom(self, request, batch_id):
        assert _active_org() == org_a  # the key's scope is active inside the view
        raise RuntimeError("kaboom inside a key view")

    monkeypatch.setattr(ingest_api.IngestBatchDetail, "get", boom)
    client.raise_request_exception = False
    assert client.get("/api/v1/ingest-batches/1", **auth).status_code == 500
    assert _active_org() is None, "the failing API request left its scope behind"
    monkeypatch.setattr(ingest_api.IngestBatchDetail, "get", real_get)
    missing = client.get("/api/v1/ingest-batches/999999", **auth)
    assert missing.status_code == 404, missing.content
    posted = client.post(
        "/api/v1/usage-events", json.dumps([]), content_type="application/json", **auth
    )
    assert posted.status_code in (202, 400), posted.content
    assert _active_org() is None
