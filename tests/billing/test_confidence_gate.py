"""Confidence-gated charging end to end: the policy option set in the organisation file, the
month drafted from the rollup (spend by attribution method), and the move shown on both the
unit's and the central bucket's statement (page and PDF), with the totals conserved."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse

from chargeback.billing.close import draft_statements, issue_statements
from chargeback.billing.models import Statement
from chargeback.calendar import Period
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.provisioning.config import apply_config, export_config, parse_config
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from tests.billing.test_pdf import _layout_text
from tests.conftest import _member
from tests.usage.conftest import HEADER, event, ingest

D = Decimal
OCT = Period.parse("2026-10")
FLAT = HEADER + "internal,flat,2026-01-01,1,1,,,,,,USD,test price,2026-01-01\n"
GATED = 'policy: {effective_from: "2026-10", confidence_gate: {min_method: gateway_key}}\n'


def _flat(rid: str, millions: int, **kw) -> dict:
    return event(rid, provider="internal", model="flat", input_tokens=millions * 1_000_000,
                 output_tokens=0, occurred_at="2026-10-05T10:00:00Z", **kw)  # fmt: skip


def _totals(org) -> dict[str, Decimal]:
    with within(org):
        billing = draft_statements(org, OCT)
        return dict(billing.statements.values_list("unit__code", "total"))


def test_low_confidence_spend_stays_with_the_central_bucket_on_both_statements(
    priced_org, client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    with within(priced_org):
        import_prices(priced_org, parse_prices(FLAT), actor="test", label="flat")
    ingest(priced_org, [
        _flat("sup-tag", 2, tags={"team": "SUP"}),  # $2 by team tag
        _flat("sup-svc", 1, tags={"service": "ticket-summarizer"}),  # $1 by service -> SUP
        _flat("ops-rule", 1, tags={"environment": "staging"}),  # $1 by ownership rule -> OPS
        _flat("sales-key", 1, gateway_key_id="gk-sales"),  # $1 by gateway key -> SALES
    ])  # fmt: skip
    # Default tiers: Experimental, 50% markup; no fee. Every $1 of usage is charged $1.50.
    before = _totals(priced_org)
    assert before == {"SUP": D("4.50"), "OPS": D("1.50"), "SALES": D("1.50"),
                      "CENTRAL": D("0.00")}  # fmt: skip
    with within(priced_org):
        apply_config(priced_org, parse_config(GATED), actor="test")
        assert export_config(priced_org)["policy"]["confidence_gate"] == {
            "min_method": "gateway_key"
        }
    after = _totals(priced_org)
    assert after == {"SUP": D("3.00"), "OPS": D("0.00"), "SALES": D("1.50"),
                     "CENTRAL": D("3.00")}  # fmt: skip
    assert sum(after.values()) == sum(before.values()) == D("7.50")
    with within(priced_org):
        issue_statements(priced_org, OCT, actor="test")
        statements = {
            s.unit.code: s
            for s in Statement.objects.filter(organization=priced_org).select_related(
                "organization", "period", "unit"
            )
        }
        moves = {
            code: [(x.amount, x.ref) for x in s.lines.filter(kind="confidence")]
            for code, s in statements.items()
        }
        for s in statements.values():
            assert sum(x.amount for x in s.lines.all()) == s.total
        pdf_sup, pdf_central = (_layout_text(statements[c]) for c in ("SUP", "CENTRAL"))
    assert moves == {
        "SUP": [(D("-1.50"), "CENTRAL")],
        "OPS": [(D("-1.50"), "CENTRAL")],
        "SALES": [],
        "CENTRAL": [(D("1.50"), "OPS"), (D("1.50"), "SUP")],
    }
    unit_text = "Low-confidence spend to the central bucket: $1.00 attributed by service"
    central_text = "Low-confidence spend of SUP: $1.00 attributed by service, not charged to it"
    client.force_login(_member(priced_org, Role.FINANCE, "fin@alpha.example").user)
    for code, text in (("SUP", unit_text), ("CENTRAL", central_text)):
        url = reverse("billing:statement-detail",
                      kwargs={"org_slug": priced_org.slug, "statement_id": statements[code].pk})  # fmt: skip
        page = client.get(url)
        assert page.status_code == 200 and text in page.content.decode()
    assert unit_text in pdf_sup and central_text in pdf_central
