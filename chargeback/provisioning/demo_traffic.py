"""Ninety days of realistic demo traffic for the demo organisation, sent through the real
ingestion path: a mid-size company's spend (about $30k of model cost a month at the price
book's prices), weekday patterns, growth, several providers and models, a retry storm, untagged
traffic (unallocated) and unknown models (left in quarantine). Deterministic."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
from dataclasses import dataclass, field

from django.conf import settings

from chargeback.tenancy.models import Organization
from chargeback.usage.ingest import create_batch, process_batch
from chargeback.usage.models import IngestBatch


@dataclass(frozen=True)
class Stream:
    """One service's traffic: `per_weekday` requests on a weekday, each of about `input_mean`
    and `output_mean` tokens (lognormal with `spread`, input capped at the model's `context`),
    up to `cached_share` of the input read from the provider's prompt cache."""

    name: str
    provider: str
    model: str
    per_weekday: int
    input_mean: int
    output_mean: int
    tags: dict[str, str] = field(default_factory=dict)
    gateway_key_id: str = ""
    provider_account: str = ""
    cached_share: float = 0.0
    batch: bool = False
    weekend_factor: float = 0.25
    growth: float = 0.0  # relative growth over the 90 days
    spread: float = 0.5
    context: int = 200_000


def _prod(team: str, service: str, cost_center: str, workflow: str = "") -> dict[str, str]:
    tags = {
        "team": team,
        "service": service,
        "cost_center": cost_center,
        "environment": "production",
    }
    if workflow:
        tags["workflow"] = workflow
    return tags


# A mid-size company's month (about $28k at the price book's prices): two large production
# services (Support Automation's reply drafter on Opus, about $13.5k; Search's long-context
# answers on Sonnet, about $9k), mid-size ones (the agents lab, ticket summaries, document
# enrichment, contract review: $0.65k-2.3k) and small ones. Requests are few for the money
# (about 2,000 a weekday, so that the demo seeds in under a minute) and large: long tickets,
# retrieved documents and agent context, as the big spenders' requests are.
STREAMS = [
    # name, provider, model, requests a weekday, mean input and output tokens, tags, key, account
    Stream("summaries", "openai", "gpt-4o-2024-08-06", 200, 85_000, 700,
           _prod("SUP-T1", "ticket-summarizer", "CC-410", "triage"), "gk-support-prod",
           "proj_support", cached_share=0.5, growth=0.3, spread=0.3, context=128_000),
    Stream("replies", "anthropic", "claude-opus-4-1-20250805", 420, 70_000, 1_300,
           _prod("SUP-AUTO", "reply-drafter", "CC-410", "reply"), "gk-support-auto",
           cached_share=0.6, weekend_factor=0.3, growth=0.6, spread=0.4),
    Stream("leads", "openai", "gpt-4.1", 120, 75_000, 500,
           _prod("SALES-EMEA", "lead-scoring", "CC-520"), "gk-sales-prod",
           cached_share=0.4, context=1_000_000),
    Stream("search", "openai", "text-embedding-3-small", 60, 2_000, 0,
           _prod("SEARCH", "semantic-search", "CC-610"), "gk-search-prod", weekend_factor=0.6),
    Stream("answers", "anthropic", "claude-sonnet-4-20250514", 460, 165_000, 1_400,
           _prod("SEARCH", "semantic-search", "CC-610", "answer"), "gk-search-prod",
           cached_share=0.1, weekend_factor=0.6, growth=0.6, spread=0.2, context=195_000),
    Stream("agents", "anthropic", "claude-opus-4-1-20250805", 40, 60_000, 3_000,
           {"team": "agents", "environment": "development", "service": "research-agent"},
           "gk-agents-dev", "wrk_agents", cached_share=0.6, growth=1.0),
    Stream("etl", "bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0", 110, 170_000, 2_500,
           {"service": "etl-enrichment", "environment": "batch"},
           provider_account="123456789012", batch=True, weekend_factor=1.0, spread=0.4,
           context=195_000),
    Stream("contracts", "google", "gemini-2.5-pro", 100, 180_000, 8_000,
           _prod("LEGAL", "contract-review", "CC-710"), "gk-legal-prod",
           cached_share=0.3, spread=0.4, context=1_000_000),
    Stream("campaigns", "mistral", "mistral-large-latest", 70, 25_000, 4_000,
           _prod("MKT", "campaign-writer", "CC-720"), "gk-marketing",
           weekend_factor=0.1, context=128_000),
    Stream("retrieval", "google", "gemini-2.5-pro", 80, 130_000, 800,
           _prod("CENTRAL", "shared-retrieval", "CC-100"), cached_share=0.3, context=1_000_000),
    Stream("untagged", "openai", "gpt-4o", 30, 40_000, 800, context=128_000),
]  # fmt: skip


def _events(org: Organization, today: dt.date, days: int, rng: random.Random) -> list[dict]:
    tz = org.tz
    events: list[dict] = []
    first = today - dt.timedelta(days=days - 1)
    now = dt.datetime.now(dt.UTC)
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        weekend = day.weekday() >= 5
        for s in STREAMS:
            trend = 1 + s.growth * offset / days
            mean = s.per_weekday * trend * (s.weekend_factor if weekend else 1.0)
            count = max(0, int(rng.gauss(mean, mean * 0.12)))
            for i in range(count):
                hour = min(23, max(0, int(rng.gauss(13, 3.5))))
                local = dt.datetime.combine(
                    day, dt.time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=tz
                )
                occurred = local.astimezone(dt.UTC)
                if occurred > now:
                    continue
                inp = min(s.context, max(1, int(rng.lognormvariate(0, s.spread) * s.input_mean)))
                out = (
                    max(0, int(rng.lognormvariate(0, s.spread) * s.output_mean))
                    if s.output_mean
                    else 0
                )
                event = {
                    "request_id": f"demo-{s.name}-{day:%Y%m%d}-{i:05d}",
                    "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
                    "provider": s.provider,
                    "model": s.model,
                    "input_tokens": inp,
                    "output_tokens": out,
                    "cached_input_tokens": int(inp * s.cached_share * rng.random()),
                    "batch": s.batch,
                    "status_code": 200,
                    "attempt": 1,
                    "user_ref": f"u-{rng.randrange(1, 400)}",
                }
                if s.gateway_key_id:
                    event["gateway_key_id"] = s.gateway_key_id
                if s.provider_account:
                    event["provider_account"] = s.provider_account
                if s.tags:
                    event["tags"] = dict(s.tags)
                if rng.random() < 0.01:
                    event["status_code"] = rng.choice([429, 500, 503])
                    event["output_tokens"] = 0
                events.append(event)
    events += _retry_storm(org, today - dt.timedelta(days=12), rng)
    # a preview model tried in the second half of last month, still unpriced
    events += _unknown_models(today.replace(day=1) - dt.timedelta(days=10), rng, tz)
    events += _untagged_production(today - dt.timedelta(days=3), tz)
    return events


def _retry_storm(org: Organization, day: dt.date, rng: random.Random) -> list[dict]:
    """An agent loop retrying a failing tool call: 600 chains of 5 attempts, each resending its
    whole context (about $600 of billed input in an hour)."""
    events = []
    start = dt.datetime.combine(day, dt.time(9, 0), tzinfo=org.tz).astimezone(dt.UTC)
    for chain in range(600):
        parent = None
        for attempt in range(1, 6):
            rid = f"demo-storm-{chain:04d}-{attempt}"
            events.append(
                {
                    "request_id": rid,
                    "occurred_at": (start + dt.timedelta(seconds=chain * 20 + attempt * 3))
                    .isoformat()
                    .replace("+00:00", "Z"),
                    "provider": "anthropic",
                    "model": "claude-sonnet-4-20250514",
                    "input_tokens": 60_000 + rng.randrange(20_000),
                    "output_tokens": 40,
                    "status_code": 500 if attempt < 5 else 200,
                    "retry_of": parent or "",
                    "attempt": attempt,
                    "gateway_key_id": "gk-agents-dev",
                    "tags": {
                        "team": "agents",
                        "environment": "development",
                        "service": "research-agent",
                        "workflow": "tool-loop",
                    },
                }
            )
            parent = rid
    return events


def _unknown_models(day: dt.date, rng: random.Random, tz: dt.tzinfo) -> list[dict]:
    out = []
    for i in range(300):
        start = dt.datetime.combine(day, dt.time(9), tzinfo=tz)
        when = (start + dt.timedelta(minutes=2 * i)).astimezone(dt.UTC)
        out.append(
            {
                "request_id": f"demo-unknown-{i:03d}",
                "occurred_at": when.isoformat().replace("+00:00", "Z"),
                "provider": "openai",
                "model": "gpt-7-preview",
                "input_tokens": 60_000 + rng.randrange(60_000),
                "output_tokens": 1_500,
                "gateway_key_id": "gk-sales-prod",
                "tags": _prod("SALES-EMEA", "lead-scoring", "CC-520"),
            }
        )
    return out


def _untagged_production(day: dt.date, tz: dt.tzinfo) -> list[dict]:
    out = []
    for i in range(8):  # production traffic without its cost center tag
        when = dt.datetime.combine(day, dt.time(11, i), tzinfo=tz).astimezone(dt.UTC)
        out.append(
            {
                "request_id": f"demo-untagged-prod-{i:03d}",
                "occurred_at": when.isoformat().replace("+00:00", "Z"),
                "provider": "openai",
                "model": "gpt-4o-mini",
                "input_tokens": 20_000,
                "output_tokens": 800,
                "tags": {"environment": "production", "team": "MKT"},
            }
        )
    return out


def ingest_demo_traffic(
    org: Organization, *, days: int | None = None, seed: int = 42
) -> IngestBatch:
    days = days or settings.DEMO_TRAFFIC_DAYS
    today = dt.datetime.now(dt.UTC).astimezone(org.tz).date()
    events = _events(org, today, days, random.Random(seed))
    payload = io.BytesIO()
    for event in events:
        payload.write(json.dumps(event, separators=(",", ":")).encode() + b"\n")
    payload.seek(0)
    batch = create_batch(
        organization=org,
        payload=payload,
        fmt="ndjson",
        source="demo",
        filename="demo-traffic.ndjson",
        created_by="command:seed_demo",
    )
    return process_batch(batch.pk)
