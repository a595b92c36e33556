"""LiteLLM spend logs as the proxy writes them: the mixed export of the issue, accepted in full
in an organisation whose config maps the teams, each row priced to the cent."""

import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from chargeback.pricing.books import import_prices, parse_prices
from chargeback.tenancy.scoping import within
from chargeback.usage.models import QuarantinedEvent, UsageEvent
from tests.usage.conftest import HEADER, ingest
from tests.usage.litellm_rows import mixed_export, row


def events(org) -> dict[str, UsageEvent]:
    with within(org):
        return {e.request_id: e for e in UsageEvent.objects.filter(organization=org)}


def payloads(rows: list[dict]) -> dict[str, bytes]:
    return {
        "array": json.dumps(rows).encode(),
        "data": json.dumps({"data": rows, "total_pages": 1}, indent=2).encode(),
        "ndjson": b"".join(json.dumps(r).encode() + b"\n" for r in rows),
    }


@pytest.mark.parametrize("shape", ["array", "data", "ndjson"])
def test_a_mixed_export_is_accepted_in_full_and_priced(litellm_org, shape):
    rows, expected = mixed_export()
    batch = ingest(litellm_org, payloads(rows)[shape], fmt="litellm")
    with within(litellm_org):
        problems = list(QuarantinedEvent.objects.values_list("request_id", "reasons"))
    assert problems == []
    assert (batch.received, batch.accepted, batch.quarantined) == (8, 8, 0)
    stored = events(litellm_org)
    assert {rid: e.cost for rid, e in stored.items()} == {
        rid: Decimal(cost).quantize(Decimal("1e-12")) for rid, cost in expected.items()
    }
    units = {rid: e.unit.code for rid, e in stored.items()}
    assert units == {
        "oa-1": "SUP", "oa-2": "RES", "an-1": "SUP", "br-1": "RES", "ge-1": "SUP", "az-1": "SUP",
        "hit-1": "SUP", "fail-1": "SUP",
    }  # fmt: skip
    sup, res = stored["an-1"], stored["br-1"]
    assert (sup.team, sup.service, sup.cost_center, sup.environment, sup.gateway_key_id) == (
        "Support", "ticket-summarizer", "CC-410", "production", "litellm-support",
    )  # fmt: skip
    assert (res.team, res.service, res.cost_center, res.environment, res.workflow) == (
        "Research", "paper-digest", "CC-520", "production", "digest",
    )  # fmt: skip
    # token classes in our convention
    an = stored["an-1"]
    assert (an.input_tokens, an.cached_input_tokens, an.cache_write_input_tokens) == (
        10_000, 6000, 2000,
    )  # fmt: skip
    assert (stored["oa-1"].input_tokens, stored["oa-1"].cached_input_tokens) == (10_000, 4000)
    assert (stored["oa-2"].output_tokens, stored["oa-2"].reasoning_tokens) == (3000, 2500)
    assert (stored["br-1"].provider, stored["br-1"].model) == ("bedrock", "claude-sonnet-4")
    assert (stored["ge-1"].provider, stored["ge-1"].model) == ("google", "gemini-2.0-flash")
    # the cache hit: recorded and counted, flagged, not charged
    hit = stored["hit-1"]
    assert (hit.cache_hit, hit.cost, hit.input_tokens) == (True, Decimal(0), 10_000)
    assert not any(e.cache_hit for rid, e in stored.items() if rid != "hit-1")
    # the failure: an error with its status
    assert (stored["fail-1"].is_error, stored["fail-1"].status_code) == (True, 429)
    # Azure: the deployment's model priced at OpenAI's price, and said so
    az = stored["az-1"]
    assert (az.provider, az.model, az.price.provider) == ("azure", "gpt-4o", "openai")
    assert az.price_method == "openai price (azure deployment)"
    assert stored["oa-1"].price_method == ""


def test_an_azure_price_of_the_organisation_is_used_first(litellm_org):
    with within(litellm_org):
        import_prices(
            litellm_org,
            parse_prices(
                HEADER + "azure,gpt-4o,2024-10-01,2.75,11.00,1.375,,,,,USD,contract,2025-01-01\n"
            ),
            actor="test",
            label="azure contract",
        )
    rows, _ = mixed_export()
    ingest(
        litellm_org,
        json.dumps([r for r in rows if r["request_id"] == "az-1"]).encode(),
        fmt="litellm",
    )
    az = events(litellm_org)["az-1"]
    # 1,000 x 2.75 + 100 x 11 = 0.00385
    assert (az.cost, az.price.provider, az.price_method) == (
        Decimal("0.003850000000"), "azure", "",
    )  # fmt: skip


def test_the_command_reads_an_ndjson_export(litellm_org, tmp_path):
    rows, _ = mixed_export()
    path = tmp_path / "spend_logs.ndjson"
    path.write_bytes(payloads(rows)["ndjson"])
    out = __import__("io").StringIO()
    call_command(
        "ingest_events", "--org", litellm_org.slug, str(path), "--format", "litellm", stdout=out
    )
    assert (
        out.getvalue()
        .strip()
        .splitlines()[-1]
        .endswith("received=8 accepted=8 duplicates=0 quarantined=0")
    )


def test_no_prompt_or_completion_text_is_stored(litellm_org):
    r = row(
        "bad-1", provider="openai", model="gpt-4o", prompt=10, completion=5, startTime="not a time"
    )
    batch = ingest(litellm_org, json.dumps([r]).encode(), fmt="litellm")
    assert batch.quarantined == 1
    with within(litellm_org):
        raw = QuarantinedEvent.objects.get().raw
    batch.payload.open("rb")
    stored = batch.payload.read()
    batch.payload.close()
    for text in (raw, stored.decode()):
        assert "SECRET" not in text
    assert json.loads(stored)[0]["response"] == {"id": "bad-1", "model": "gpt-4o"}
