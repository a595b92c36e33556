"""Cache hits (served from a gateway's cache, cost 0) are counted as requests and tokens but
do not count toward the token volume that decides a unit's tier: they are not charged."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from chargeback.allocation.policy import parse_policy
from chargeback.billing.close import draft_statements
from chargeback.billing.policy_versions import save_policy
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.tenancy.scoping import within
from tests.billing.test_close import FLAT, OCT, WORKED_POLICY, _flat_events, _lines
from tests.usage.conftest import ingest


def _hits(unit: str, millions: int) -> list[dict]:
    return [
        {**e, "cache_hit": True}
        for e in _flat_events(unit, millions, f"hit-{unit.lower()}", day="2026-10-06")
    ]


@pytest.fixture
def with_hits(priced_org):
    """SUP: 5M charged tokens ($5) and 8M served from cache ($0); SALES: 20M charged."""
    with within(priced_org):
        import_prices(priced_org, parse_prices(FLAT), actor="test", label="flat")
    ingest(
        priced_org,
        _flat_events("SUP", 5, "sup") + _hits("SUP", 8) + _flat_events("SALES", 20, "sal"),
    )
    return priced_org


def test_cache_hits_do_not_move_a_unit_up_the_volume_tiers(with_hits):
    with within(with_hits):
        save_policy(organization=with_hits, policy=parse_policy(WORKED_POLICY), actor="test")
        by_unit = {s.unit.code: s for s in draft_statements(with_hits, OCT).statements.all()}
        sup = by_unit["SUP"]
        lines = _lines(sup)
        usage_line = sup.lines.get(kind="usage").description
    # 13M tokens in all would be Standard (20%); the 5M charged ones are Experimental (50%)
    assert sup.tier == "Experimental"
    assert lines == [
        ("usage", Decimal("5.00")),
        ("markup", Decimal("2.50")),
        ("platform_fee", Decimal("0.75")),
    ]
    assert sup.total == Decimal("8.25")
    assert usage_line == "internal/flat: 13,000,000 tokens, 2 requests"
    assert by_unit["SALES"].tier == "Standard"


def test_graduated_bands_leave_cache_hits_out(with_hits):
    """Graduated: SUP's 5M charged tokens all fall in the first band (below 10M)."""
    policy = dict(WORKED_POLICY, tier_mode="graduated")
    with within(with_hits):
        save_policy(organization=with_hits, policy=parse_policy(policy), actor="test")
        sup = draft_statements(with_hits, OCT).statements.get(unit__code="SUP")
        lines = [(x.kind, x.description, x.amount) for x in sup.lines.order_by("position")]
    assert lines[1] == (
        "markup",
        "Tier markup: Experimental band, 5,000,000 tokens (50%)",
        Decimal("2.50"),
    )


def test_cache_hits_are_counted_as_requests(with_hits):
    out = StringIO()
    call_command("spend", "--org", with_hits.slug, "--period", "2026-10", "--format", "json",
                 stdout=out)  # fmt: skip
    sup = next(u for u in json.loads(out.getvalue())["units"] if u["code"] == "SUP")
    assert (sup["requests"], sup["input_tokens"], sup["cost"]) == (2, 13_000_000, "5")
