"""Every API input bounded (issue 15, finding 2 and the status size of finding 9): a huge
integer, deep nesting, a huge page size or offset is a 400 naming the field (never a 500), and
a batch's status summarises its quarantined records instead of listing every reason."""

from __future__ import annotations

import json

import pytest

from chargeback.api.pagination import MAX_LIMIT
from chargeback.tenancy.scoping import within
from chargeback.usage.ingest import process_batch
from chargeback.usage.keys import create_key
from tests.usage.conftest import event

HUGE = "9" * 5000
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def secret(priced_org):
    with within(priced_org):
        return create_key(organization=priced_org, name="gateway", actor="test")[1]


def post(client, secret, url, body):
    return client.generic(
        "POST", url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


def test_usage_events_refuse_a_huge_integer_naming_the_field(client, secret):
    body = json.dumps([event("a"), event("b")]).replace(
        '"input_tokens": 1200', '"input_tokens": 1', 1
    )
    body = body.replace('"input_tokens": 1200', f'"input_tokens": {HUGE}')
    response = post(client, secret, "/api/v1/usage-events", body)
    assert response.status_code == 400
    assert response.json()["detail"] == "1.input_tokens: too many digits (5000)."
    response = post(client, secret, "/api/v1/usage-events", DEEP)
    assert (response.status_code, response.json()["detail"]) == (
        400,
        "The JSON is nested too deeply.",
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            f'{{"unit": "SUP", "month": "2026-10", "outcome": "x", "count": {HUGE}}}',
            "0.count: too many digits (5000).",
        ),
        (DEEP, "The JSON is nested too deeply."),
        ('[{"unit": ' + "[" * 50 + "]" * 50 + "}]", "record: nested too deep (over 32 levels)."),
    ],
)
def test_outcomes_refuse_huge_integers_and_deep_nesting(client, secret, body, detail):
    response = post(client, secret, "/api/v1/outcomes", body)
    assert response.status_code == 400
    assert response.json()["detail"] == detail


def test_page_size_is_capped_and_a_huge_offset_is_a_400(client_for, admin, org_a):
    client = client_for(admin)
    url = f"/api/v1/o/{org_a.slug}/units/"
    response = client.get(url, {"limit": "9223372036854775808"})
    assert response.status_code == 200
    assert response.json()["next"] is None or f"limit={MAX_LIMIT}" in response.json()["next"]
    response = client.get(url, {"limit": 1, "offset": "9223372036854775808"})
    assert response.status_code == 400
    assert "offset" in response.json()


@pytest.mark.parametrize("name", ["limit", "offset"])
@pytest.mark.parametrize("value", ["", " 5", "-1", "x"])
def test_a_page_parameter_given_but_not_a_whole_number_is_a_400_naming_it(
    client_for, admin, org_a, name, value
):
    """As the schema says (an integer): found by schemathesis with `?offset=&status=issued`."""
    response = client_for(admin).get(f"/api/v1/o/{org_a.slug}/statements/", {name: value})
    assert response.status_code == 400
    assert list(response.json()) == [name]


def test_a_batch_status_summarises_a_record_with_ten_thousand_unknown_tags(
    client, secret, priced_org
):
    tags = {f"t{i}": "x" for i in range(10_000)}
    response = post(client, secret, "/api/v1/usage-events", json.dumps([event("tags", tags=tags)]))
    assert response.status_code == 202
    batch = process_batch(response.json()["batch_id"])
    assert batch.quarantined == 1
    status = client.get(f"/api/v1/ingest-batches/{batch.pk}", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert status.status_code == 200
    assert len(status.content) < 10_000
    [sample] = status.json()["quarantine_sample"]
    assert len(sample["reasons"]) == 10 and sample["more_reasons"] == 9_990
    assert status.json()["quarantined_by_reason"] == {"unknown_field": 1}
