"""The auditor: readiness per unit from the month's rows, the command's JSON and the page."""

from __future__ import annotations

import io
import json
from decimal import Decimal

from django.core.management import call_command
from django.urls import reverse
from django_scopes import scopes_disabled

from chargeback.reconciliation.readiness import UnitFacts, assess
from chargeback.tenancy.models import Role
from chargeback.units.models import GatewayKey
from tests.conftest import _member
from tests.reconciliation.conftest import INVOICE
from tests.usage.conftest import event, ingest

D = Decimal


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_assess_ranks_the_issues_by_amount():
    facts = UnitFacts("SUP", "Support", spend=D("100"), fallback=D("10"), unit_owner="a@x",
                      copied_keys={"gk-1": D("40")}, quarantined_cost=D("3"),
                      quarantined_records=2)  # fmt: skip
    r = assess(facts, currency="USD", unexplained_pct=D("1.00"))
    assert r.attributable_share == D("0.9000") and r.ready is False
    assert [i.amount for i in r.issues] == [D("40"), D("10"), D("3")]
    assert r.fix_first.startswith("gateway key gk-1 is used from more than one service")
    ok = assess(UnitFacts("A", "A", spend=D("100"), fallback=D("5"), unit_owner="a@x"),
                currency="USD", unexplained_pct=D("-1.99"))  # fmt: skip
    assert ok.ready is True and ok.fix_first is None
    no_invoice = assess(UnitFacts("A", "A", spend=D("1"), unit_owner="a@x"), currency="USD",
                        unexplained_pct=None)  # fmt: skip
    assert no_invoice.ready is False
    assert no_invoice.fix_first == "import the month's provider invoices and reconcile"


def test_the_readiness_command_and_page(metered, tmp_path, client):
    # SALES' key is used from two environments and has no named owner in production.
    with scopes_disabled():
        GatewayKey.objects.filter(organization=metered, key_id="gk-sales").update(
            environment="production", owner_email=""
        )
    tags = {"team": "SALES", "service": "crm", "cost_center": "CC1", "environment": "production"}
    ingest(metered, [
        event("k-1", occurred_at="2026-10-08T10:00:00Z", provider="internal", model="flat",
              input_tokens=1_000_000, output_tokens=0, gateway_key_id="gk-sales", tags=tags),
        event("k-2", occurred_at="2026-10-08T11:00:00Z", provider="internal", model="flat",
              input_tokens=1_000_000, output_tokens=0, gateway_key_id="gk-sales",
              tags={**tags, "environment": "staging"}),
        event("k-3", occurred_at="2026-10-08T12:00:00Z", provider="internal", model="flat",
              input_tokens=1_000_000, output_tokens=0, gateway_key_id="gk-sales",
              tags={"environment": "production"}),  # quarantined: missing required tags
    ])  # fmt: skip
    path = tmp_path / "inv.csv"
    path.write_text(INVOICE)
    run("import_invoice", "--org", metered.slug, "--period", "2026-10", str(path))
    report = json.loads(run("readiness", "--org", metered.slug, "--period", "2026-10",
                            "--format", "json"))  # fmt: skip
    units = {u["unit"]: u for u in report["units"]}
    assert set(units["SALES"]) >= {"unit", "spend", "attributable_share", "quarantined_cost",
                                   "missing_tags_share", "named_owner", "ready", "fix_first"}  # fmt: skip
    sales = units["SALES"]
    assert sales["named_owner"] is False and sales["ready"] is False
    assert sales["copied_keys"] == ["gk-sales"]
    assert sales["attributable_share"] == "1.0000"
    assert sales["missing_tags_share"] == "0.5000"  # k-3 of k-1 and k-3
    assert sales["quarantined_cost"] == "1.00"  # k-3 at the invoice's $1/1M for flat input
    sup = units["SUP"]
    assert sup["spend"] == "3.90" and sup["named_owner"] is True
    assert "SALES" in run("readiness", "--org", metered.slug, "--period", "2026-10")
    finance = _member(metered, Role.FINANCE, "fin@alpha.example")
    client.force_login(finance.user)
    url = reverse("reconciliation:readiness", kwargs={"org_slug": metered.slug})
    page = client.get(url + "?period=2026-10")
    assert page.status_code == 200
    assert b"name an owner for production gateway key gk-sales" in page.content
    assert client.get(url + "?period=oct").status_code == 400
