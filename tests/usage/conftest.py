"""Usage fixtures: an organisation with prices and structure, and `ingest` (a batch stored and
processed as the upload view and the worker do, in the organisation's scope)."""

import json

import pytest
from django.core.management import call_command

from chargeback.pricing.books import import_prices, load_default_prices, parse_prices
from chargeback.tenancy.scoping import within
from chargeback.usage.ingest import create_batch, process_batch
from tests import factories as f

HEADER = "provider,model,effective_from,input_per_1m,output_per_1m,cached_input_per_1m,cache_write_per_1m,batch_input_per_1m,batch_output_per_1m,per_request,currency,source,source_date\n"


@pytest.fixture
def priced_org(org_a):
    """org_a with the default price book, units SUP, SALES, AGENT, a gateway key, an account,
    a service and a rule; the central unit is CENTRAL."""
    return price_and_structure(org_a)


def price_and_structure(org_a):
    """What `priced_org` adds to an organisation (which has its central unit already). The
    prices load as `load_prices` and `import_prices` load them, in the organisation's scope; the
    factories build the rest with scopes disabled."""
    # per-request-only prices for the DESIGN.md worked example
    rows = parse_prices(
        HEADER
        + "internal,support-bot,2026-01-01,,,,,,,0.0008,USD,worked example,2026-01-01\n"
        + "internal,sales-bot,2026-01-01,,,,,,,0.09,USD,worked example,2026-01-01\n"
        + "internal,agent-bot,2026-01-01,,,,,,,0.015,USD,worked example,2026-01-01\n"
    )
    with within(org_a):
        load_default_prices(org_a, actor="test")
        import_prices(org_a, rows, actor="test", label="worked example")
    units = {
        "SUP": f.BusinessUnitFactory(organization=org_a, code="SUP", name="Support"),
        "SALES": f.BusinessUnitFactory(organization=org_a, code="SALES", name="Sales"),
        "AGENT": f.BusinessUnitFactory(organization=org_a, code="AGENT", name="Agent Lab"),
        "OPS": f.BusinessUnitFactory(organization=org_a, code="OPS", name="Operations"),
    }
    svc = f.ServiceFactory(organization=org_a, name="ticket-summarizer", unit=units["SUP"])
    f.GatewayKeyFactory(
        organization=org_a, key_id="gk-sales", unit=units["SALES"], service=None, environment=""
    )
    f.ProviderAccountFactory(
        organization=org_a, provider="openai", account="proj_agent", unit=units["AGENT"]
    )
    f.OwnershipRuleFactory(
        organization=org_a, match_service="", match_environment="staging", unit=units["OPS"]
    )
    org_a.units_map = units
    org_a.service = svc
    return org_a


def event(request_id: str, **overrides) -> dict:
    base = {
        "request_id": request_id,
        "occurred_at": "2026-10-03T14:22:05Z",
        "provider": "openai",
        "model": "gpt-4o-mini-2024-07-18",
        "input_tokens": 1200,
        "output_tokens": 300,
    }
    base.update(overrides)
    return base


def ndjson(events: list) -> bytes:
    return b"".join(
        (json.dumps(e) if not isinstance(e, str) else e).encode() + b"\n" for e in events
    )


def ingest(org, events: list, fmt: str = "ndjson"):
    """Store a batch in `org`'s scope (as the ingest API does), then process it (as the worker
    does: `process_batch` finds the batch's organisation and enters its scope itself)."""
    payload = events if isinstance(events, bytes) else ndjson(events)
    with within(org):
        batch = create_batch(organization=org, payload=payload, fmt=fmt, source="test")
    return process_batch(batch.pk)


OWNER = "lead@example.com"
CONFIG = {
    "units": [
        {"code": "SUP", "name": "Support", "parent": None, "billing_mode": "chargeback", "owner": OWNER},
        {"code": "RES", "name": "Research", "parent": None, "billing_mode": "chargeback", "owner": OWNER},
    ],
    "services": [
        {"name": "ticket-summarizer", "unit": "SUP"},
        {"name": "paper-digest", "unit": "RES"},
    ],
    "gateway_keys": [
        {"key_id": "litellm-support", "unit": "SUP", "service": "ticket-summarizer",
         "environment": "production", "owner": OWNER},
        {"key_id": "litellm-research", "unit": "RES", "service": "paper-digest",
         "environment": "production", "owner": OWNER},
    ],
    "required_tags": ["team", "service", "cost_center", "environment"],
}  # fmt: skip


@pytest.fixture
def litellm_org(org_a, tmp_path):
    f.MembershipFactory(organization=org_a, user=f.UserFactory(username=OWNER))
    with within(org_a):
        load_default_prices(org_a, actor="test")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(CONFIG))
    call_command("import_config", "--org", org_a.slug, str(path))
    return org_a
