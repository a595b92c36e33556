"""Gateway fixtures: org_a (USD) with a price book, unit SUP with a funded hard team wallet and
a production gateway key, an ingestion key, and `call` to post to the gateway endpoints."""

from __future__ import annotations

import json

import pytest
from django_scopes import scopes_disabled

from chargeback.gateway.models import Enforcement
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.tenancy.scoping import within
from chargeback.usage.keys import create_key
from chargeback.wallets.accounts import open_wallet
from chargeback.wallets.ledger import post_entry
from tests import factories as f

HEADER = "provider,model,effective_from,input_per_1m,output_per_1m,cached_input_per_1m,cache_write_per_1m,batch_input_per_1m,batch_output_per_1m,per_request,currency,source,source_date\n"
PRICES = (
    HEADER
    + "openai,gpt-4o,2026-01-01,2.50,10.00,,,,,,USD,test,2026-01-01\n"
    + "openai,gpt-4o-mini,2026-01-01,0.15,0.60,,,,,,USD,test,2026-01-01\n"
)


@pytest.fixture
def gw(org_a):
    """{"org", "unit", "wallet", "secret"}: SUP's hard team wallet funded with 10.00 USD, key
    gk-sup (production), enforce mode."""
    with within(org_a):
        import_prices(org_a, parse_prices(PRICES), actor="test", label="test")
    with scopes_disabled():
        unit = f.BusinessUnitFactory(organization=org_a, code="SUP", name="Support")
        f.GatewayKeyFactory(organization=org_a, key_id="gk-sup", unit=unit)
        wallet = open_wallet(organization=org_a, unit=unit, kind="team", actor="test")
        Enforcement.objects.create(organization=org_a, mode="enforce")
    with within(org_a):
        post_entry(wallet=wallet, type="funding", amount="10.00", reason="test", actor="test")
        secret = create_key(organization=org_a, name="gateway", actor="test")[1]
    return {"org": org_a, "unit": unit, "wallet": wallet, "secret": secret}


@pytest.fixture
def call(client, gw):
    """call(endpoint, body, secret=None) -> (status, json)."""

    def post(endpoint: str, body: dict, secret: str | None = None):
        response = client.post(
            f"/api/v1/{endpoint}",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret or gw['secret']}",
        )
        return response.status_code, response.json()

    return post


def set_mode(org, mode: str, threshold=None) -> None:
    with scopes_disabled():
        Enforcement.objects.update_or_create(
            organization=org, defaults={"mode": mode, "approval_above_input_per_1m": threshold}
        )
