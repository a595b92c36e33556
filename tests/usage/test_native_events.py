"""Native events as gateways write them: tags at the top level, and a provider's raw `usage`
object (OpenAI's, Anthropic's) in place of our token fields, each priced to the cent."""

from decimal import Decimal

import pytest

from chargeback.tenancy.scoping import within
from chargeback.usage.models import QuarantinedEvent, UsageEvent
from tests.usage.conftest import event, ingest


def stored(org, request_id):
    with within(org):
        return UsageEvent.objects.get(organization=org, request_id=request_id)


def reasons(org):
    with within(org):
        return [r for q in QuarantinedEvent.objects.all() for r in q.reasons]


def test_top_level_tags_are_read_as_tags(priced_org):
    batch = ingest(
        priced_org, [event("t1", team="SUP", workflow="triage", service="ticket-summarizer")]
    )
    assert (batch.accepted, batch.quarantined) == (1, 0)
    e = stored(priced_org, "t1")
    assert (e.unit.code, e.attribution, e.team, e.workflow) == ("SUP", "team_tag", "SUP", "triage")


def test_top_level_tags_are_checked_for_production_traffic(priced_org):
    record = event("t2", team="SUP", environment="production")
    batch = ingest(priced_org, [record])
    assert batch.quarantined == 1
    assert reasons(priced_org)[0]["code"] == "missing_tag"


def test_a_tag_inside_tags_beats_the_same_tag_at_the_top_level(priced_org):
    ingest(priced_org, [event("t3", team="SALES", tags={"team": "SUP"})])
    assert stored(priced_org, "t3").unit.code == "SUP"


@pytest.mark.parametrize(
    "usage",
    [
        # Chat Completions: prompt_tokens includes the cached tokens
        {
            "prompt_tokens": 10_000, "completion_tokens": 500, "total_tokens": 10_500,
            "prompt_tokens_details": {"cached_tokens": 4000, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 200, "audio_tokens": 0},
        },
        # Responses API: input_tokens includes the cached tokens
        {
            "input_tokens": 10_000, "input_tokens_details": {"cached_tokens": 4000},
            "output_tokens": 500, "output_tokens_details": {"reasoning_tokens": 200},
            "total_tokens": 10_500,
        },
    ],
    ids=["chat", "responses"],
)  # fmt: skip
def test_an_openai_usage_object(priced_org, usage):
    record = {k: v for k, v in event("o1", model="gpt-4o-2024-08-06").items() if "tokens" not in k}
    batch = ingest(priced_org, [{**record, "usage": usage}])
    assert (batch.accepted, batch.quarantined) == (1, 0)
    e = stored(priced_org, "o1")
    assert (e.input_tokens, e.cached_input_tokens, e.output_tokens, e.reasoning_tokens) == (
        10_000, 4000, 500, 200,
    )  # fmt: skip
    # 6,000 x 2.50 + 4,000 x 1.25 + 500 x 10 per 1M = 0.025
    assert e.cost == Decimal("0.025000000000")


def test_an_anthropic_usage_object(priced_org):
    record = {
        k: v
        for k, v in event("a1", provider="anthropic", model="claude-sonnet-4-20250514").items()
        if "tokens" not in k
    }
    usage = {
        "input_tokens": 2000, "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 6000, "output_tokens": 1000,
        "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 0},
        "service_tier": "standard",
    }  # fmt: skip
    batch = ingest(priced_org, [{**record, "usage": usage}])
    assert (batch.accepted, batch.quarantined) == (1, 0)
    e = stored(priced_org, "a1")
    # Anthropic's input_tokens excludes the cache: ours is all input
    assert (e.input_tokens, e.cached_input_tokens, e.cache_write_input_tokens) == (
        10_000,
        6000,
        2000,
    )
    # 2,000 x 3 + 6,000 x 0.30 + 2,000 x 3.75 + 1,000 x 15 per 1M = 0.0303
    assert e.cost == Decimal("0.030300000000")


def test_a_usage_object_that_cannot_be_read_is_refused_by_name(priced_org):
    record = {k: v for k, v in event("u1").items() if "tokens" not in k}
    batch = ingest(
        priced_org, [{**record, "usage": {"input_tokens": "many", "cache_read_input_tokens": 5}}]
    )
    assert batch.quarantined == 1
    assert reasons(priced_org)[0]["field"] == "usage"


def test_a_cache_hit_field_is_counted_not_charged(priced_org):
    ingest(priced_org, [event("h1", cache_hit=True)])
    e = stored(priced_org, "h1")
    assert (e.cache_hit, e.cost, e.input_tokens) == (True, Decimal(0), 1200)
