import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from chargeback.audit.models import AuditEvent
from chargeback.pricing.books import import_prices, parse_prices
from chargeback.pricing.models import PriceAdjustment, RepricingRun
from chargeback.tenancy.scoping import within
from chargeback.usage.models import UsageEvent
from chargeback.usage.repricing import plan_repricing, reprice_range
from tests.usage.conftest import HEADER, event, ingest

OCT = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))


def _correct_price(org, value: str) -> None:
    """A corrected price for gpt-4o-mini with the same effective date as the default one."""
    rows = parse_prices(
        HEADER
        + f"openai,gpt-4o-mini,2024-07-18,{value},0.60,0.075,,0.075,0.30,,USD,correction,2026-11-01\n"
    )
    with within(org):
        import_prices(org, rows, actor="test", label="correction")


def test_repricing_records_adjustments_and_keeps_original_costs(priced_org):
    ingest(
        priced_org,
        [
            event("r1", tags={"team": "SUP"}),
            event("r2", tags={"team": "SALES"}),
            event("nov", occurred_at="2026-11-02T10:00:00Z"),
        ],
    )
    with within(priced_org):
        assert plan_repricing(priced_org, *OCT).changed == 0
        _correct_price(priced_org, "0.25")
        run = reprice_range(
            organization=priced_org,
            first_day=OCT[0],
            last_day=OCT[1],
            note="OpenAI invoice correction",
            actor="test",
        )
        assert (run.events_examined, run.events_changed) == (2, 2)
        # 1,200 input tokens x (0.25 - 0.15) per 1M = 0.00012 per event
        assert run.total_delta == Decimal("0.000240000000")
        adjustments = {
            (a.unit.code, a.month): a.delta
            for a in PriceAdjustment.objects.filter(run=run).select_related("unit")
        }
        assert adjustments == {
            ("SUP", "2026-10"): Decimal("0.000120000000"),
            ("SALES", "2026-10"): Decimal("0.000120000000"),
        }
        e = UsageEvent.objects.get(request_id="r1")
        assert (e.cost, e.repriced_cost) == (Decimal("0.000360000000"), Decimal("0.000480000000"))
        assert e.price.version.number == 1 and e.repriced_price.version.number == 3
        assert (
            AuditEvent.objects.filter(organization=priced_org, action="pricing.repriced").count()
            == 1
        )


def test_running_twice_adds_nothing_the_second_time(priced_org):
    ingest(priced_org, [event("r1")])
    _correct_price(priced_org, "0.25")
    with within(priced_org):
        reprice_range(
            organization=priced_org,
            first_day=OCT[0],
            last_day=OCT[1],
            note="first pass",
            actor="test",
        )
        second = reprice_range(
            organization=priced_org,
            first_day=OCT[0],
            last_day=OCT[1],
            note="second pass",
            actor="test",
        )
        assert (second.events_changed, second.total_delta) == (0, Decimal(0))
        _correct_price(priced_org, "0.20")
        third = reprice_range(
            organization=priced_org,
            first_day=OCT[0],
            last_day=OCT[1],
            note="third pass",
            actor="test",
        )
        assert third.total_delta == Decimal("-0.000060000000")
        total = sum(
            PriceAdjustment.objects.filter(organization=priced_org).values_list("delta", flat=True),
            Decimal(0),
        )
        assert total == Decimal("0.000060000000")  # 0.15 -> 0.20 overall


def test_command(priced_org, capsys):
    ingest(priced_org, [event("r1")])
    _correct_price(priced_org, "0.25")
    call_command(
        "reprice",
        "--org",
        priced_org.slug,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "--dry-run",
    )
    assert (
        capsys.readouterr().out
        == "re-pricing 2026-10-01..2026-10-31: 1 events examined, 1 would change, difference 0.000120000000 USD\n"
    )
    with within(priced_org):
        assert RepricingRun.objects.count() == 0
    with pytest.raises(CommandError, match="say why"):
        call_command(
            "reprice", "--org", priced_org.slug, "--from", "2026-10-01", "--to", "2026-10-31"
        )
    with pytest.raises(CommandError, match='--from: "2026-13-01" is not a date'):
        call_command(
            "reprice",
            "--org",
            priced_org.slug,
            "--from",
            "2026-13-01",
            "--to",
            "2026-10-31",
            "--note",
            "x",
        )
    with pytest.raises(CommandError, match="ends before it starts"):
        call_command(
            "reprice",
            "--org",
            priced_org.slug,
            "--from",
            "2026-10-31",
            "--to",
            "2026-10-01",
            "--note",
            "backwards",
        )
    call_command(
        "reprice",
        "--org",
        priced_org.slug,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "--note",
        "invoice fix",
    )
    assert "1 changed" in capsys.readouterr().out


def test_pages_preview_then_confirm(priced_org, client, django_user_model):
    from chargeback.tenancy.models import Role
    from tests import factories as f

    ingest(priced_org, [event("r1")])
    _correct_price(priced_org, "0.25")
    admin = f.MembershipFactory(
        organization=priced_org,
        role=Role.ADMIN,
        user=f.UserFactory(username="rp-admin@alpha.example"),
    )
    finance = f.MembershipFactory(
        organization=priced_org,
        role=Role.FINANCE,
        user=f.UserFactory(username="rp-fin@alpha.example"),
    )
    url = f"/o/{priced_org.slug}/prices/repricing/new/"
    client.force_login(finance.user)
    assert client.get(url).status_code == 403
    assert client.get(f"/o/{priced_org.slug}/prices/repricing/").status_code == 200
    client.force_login(admin.user)
    form = {"first_day": "2026-10-01", "last_day": "2026-10-31", "note": "invoice correction"}
    preview = client.post(url, form)
    assert preview.status_code == 200
    assert "1</strong> would change" in preview.content.decode()
    with within(priced_org):
        assert RepricingRun.objects.count() == 0
    bad = client.post(url, {**form, "last_day": "2026-09-01"})
    assert "The range ends before it starts." in bad.content.decode()
    done = client.post(url, {**form, "confirm": "1"}, follow=True)
    with within(priced_org):
        run = RepricingRun.objects.get()
    assert done.redirect_chain[-1][0] == f"/o/{priced_org.slug}/prices/repricing/{run.pk}/"
    assert "Re-priced 1 event: 1 changed" in done.content.decode()
    assert "&lt; $0.01" in done.content.decode()


def _reprice(org, note: str) -> str:
    out = io.StringIO()
    call_command(
        "reprice", "--org", org.slug, "--from", "2026-10-01", "--to", "2026-10-31",
        "--note", note, stdout=out,
    )  # fmt: skip
    return out.getvalue()


def test_reprice_finds_an_azure_price_as_ingestion_does(priced_org):
    """An Azure deployment priced at OpenAI's price (no Azure price in the book) is re-priced
    by the same fallback when OpenAI's price is corrected, and by the organisation's own Azure
    price once it has one; the run records how it found the price."""
    ingest(priced_org, [event("az", provider="azure"), event("oa")])
    with within(priced_org):
        az = UsageEvent.objects.get(request_id="az")
    # 1,200 x 0.15 + 300 x 0.60 per 1M
    assert (az.cost, az.price_method) == (Decimal("0.00036"), "openai price (azure deployment)")

    _correct_price(priced_org, "0.25")  # 1,200 x 0.25 + 300 x 0.60 per 1M = 0.00048
    _reprice(priced_org, "OpenAI invoice correction")
    with within(priced_org):
        az, oa = UsageEvent.objects.get(request_id="az"), UsageEvent.objects.get(request_id="oa")
        run = RepricingRun.objects.get()
    assert (run.events_examined, run.events_changed) == (2, 2)
    assert (az.cost, az.repriced_cost) == (Decimal("0.00036"), Decimal("0.00048"))
    assert az.repriced_price_method == "openai price (azure deployment)"
    assert (oa.repriced_cost, oa.repriced_price_method) == (Decimal("0.00048"), "")

    rows = parse_prices(
        HEADER + "azure,gpt-4o-mini,2024-07-18,0.20,0.60,,,,,,USD,azure contract,2026-11-01\n"
    )
    with within(priced_org):
        import_prices(priced_org, rows, actor="test", label="azure contract")
    _reprice(priced_org, "Azure contract prices")  # 1,200 x 0.20 + 300 x 0.60 per 1M
    with within(priced_org):
        az = UsageEvent.objects.get(request_id="az")
        delta = RepricingRun.objects.order_by("-pk").first().total_delta
    assert (az.repriced_cost, az.repriced_price_method) == (Decimal("0.00042"), "")
    assert delta == Decimal("-0.00006")
