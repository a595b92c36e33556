"""Invoices imported by command, the month reconciled from the database, and the close gate."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from chargeback.billing.models import BillingPeriod
from chargeback.calendar import Period
from chargeback.reconciliation.gate import variance_gate
from chargeback.reconciliation.models import InvoiceLine, ProviderInvoice
from chargeback.tenancy.scoping import within
from tests.reconciliation.conftest import INVOICE

OCT = "2026-10"
FOCUS = (
    "BilledCost,EffectiveCost,ListCost,ChargePeriodStart,ChargePeriodEnd,BillingCurrency,"
    "ServiceProviderName,ServiceName,SkuId,ConsumedQuantity,ConsumedUnit,SkuPriceDetails,"
    "x_Team\n"
    "4.40,4.40,4.40,2026-10-05T00:00:00Z,2026-10-06T00:00:00Z,USD,Internal,LLM,flat:input,4.4,"
    '1M tokens,"{""x_Model"": ""flat""}",a\n'
    "1.20,1.20,1.20,2026-10-05T00:00:00Z,2026-10-06T00:00:00Z,USD,Internal,LLM,"
    "flat:output-tokens,300000,Tokens,,b\n"
)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _write(tmp_path, text: str, name: str = "invoice.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_and_reconcile_the_month(metered, tmp_path):
    out = run("import_invoice", "--org", metered.slug, "--period", OCT, _write(tmp_path, INVOICE))
    assert out.strip().endswith("internal 2026-10 lines=5 total=8.7 USD")
    report = json.loads(run("reconcile", "--org", metered.slug, "--period", OCT, "--format",
                            "json"))  # fmt: skip
    assert set(report) >= {"period", "currency", "metered", "allocated", "billed", "variance",
                           "variance_pct", "causes", "unexplained", "by_provider"}  # fmt: skip
    assert (report["metered"], report["billed"], report["variance"]) == ("6.90", "8.70", "1.80")
    assert report["variance_pct"] == "20.69"
    causes = {c["cause"]: c["amount"] for c in report["causes"]}
    assert causes == {
        "cached_pricing": "0.30",
        "batch_pricing": "0.00",
        "discounts": "-0.50",
        "partial_usage": "-1.00",
        "alias_lag": "3.00",
        "ingestion_gaps": "0.00",
        "late_events": "0.00",
        "currency_rounding": "0.00",
    }
    assert report["unexplained"] == "0.00"
    total = sum(Decimal(v) for v in causes.values()) + Decimal(report["unexplained"])
    assert total == Decimal(report["variance"])
    assert report["by_provider"] == [
        {"provider": "internal", "metered": "6.90", "billed": "8.70", "variance": "1.80"}
    ]
    assert report["allocated"] is None  # no statements yet
    # A rerun is idempotent, and the table names the figures.
    again = json.loads(run("reconcile", "--org", metered.slug, "--period", OCT, "--format",
                           "json"))  # fmt: skip
    assert again == report
    assert "variance" in run("reconcile", "--org", metered.slug, "--period", OCT)


def test_bad_rows_are_refused_with_line_field_and_reason_and_nothing_is_written(metered, tmp_path):
    bad = INVOICE + "internal,flat,output,-5,1.00,USD\ninternal,flat,output,1,2.00,EUR\n"
    with pytest.raises(CommandError, match=r"^line 7: quantity: must not be negative$"):
        run("import_invoice", "--org", metered.slug, "--period", OCT, _write(tmp_path, bad))
    unknown = INVOICE.replace("currency\n", "currency,colour\n", 1)
    with pytest.raises(CommandError, match=r"^line 1: colour: unknown column$"):
        run("import_invoice", "--org", metered.slug, "--period", OCT, _write(tmp_path, unknown))
    wrong_class = INVOICE + "internal,flat,tokens,1,1.00,USD\n"
    with pytest.raises(CommandError, match=r"^line 7: token_class: must be one of input, "):
        run("import_invoice", "--org", metered.slug, "--period", OCT,
            _write(tmp_path, wrong_class))  # fmt: skip
    with pytest.raises(CommandError, match=r'^period: "2026-13" is not a month'):
        run("import_invoice", "--org", metered.slug, "--period", "2026-13",
            _write(tmp_path, INVOICE))  # fmt: skip
    with within(metered):
        assert not ProviderInvoice.objects.exists() and not InvoiceLine.objects.exists()


def test_a_second_invoice_of_the_same_provider_and_month_is_refused(metered, tmp_path):
    path = _write(tmp_path, INVOICE)
    run("import_invoice", "--org", metered.slug, "--period", OCT, path)
    with pytest.raises(CommandError, match=r"^line 2: provider: internal already has an invoice"):
        run("import_invoice", "--org", metered.slug, "--period", OCT, path)
    with within(metered):
        assert ProviderInvoice.objects.count() == 1 and InvoiceLine.objects.count() == 5


def test_a_focus_file_maps_to_provider_model_and_token_class(metered, tmp_path):
    out = run("import_invoice", "--org", metered.slug, "--period", OCT,
              _write(tmp_path, FOCUS), "--format", "focus")  # fmt: skip
    assert "internal 2026-10 lines=2" in out
    with within(metered):
        lines = list(InvoiceLine.objects.order_by("position").values_list(
            "provider", "model", "token_class", "quantity", "amount", "day", "sku"))  # fmt: skip
    assert [(p, m, c, q, a) for p, m, c, q, a, _d, _s in lines] == [
        ("internal", "flat", "input", Decimal("4400000"), Decimal("4.40")),
        ("internal", "flat", "output", Decimal("300000"), Decimal("1.20")),
    ]
    assert str(lines[0][5]) == "2026-10-05"
    outside = FOCUS.replace("2026-10-05T00", "2026-11-05T00", 1)
    with pytest.raises(CommandError, match=r"^line 2: ChargePeriodStart: 2026-11-05 is outside"):
        run("import_invoice", "--org", metered.slug, "--period", "2026-10",
            _write(tmp_path, outside.replace("Internal", "Other")), "--format", "focus")  # fmt: skip


def test_the_gate_refuses_an_unexplained_variance_above_the_threshold(metered, tmp_path):
    with within(metered):
        assert variance_gate(metered, Period.parse(OCT)) is None  # no invoice yet
    run("import_invoice", "--org", metered.slug, "--period", OCT, _write(tmp_path, INVOICE))
    with within(metered):
        assert variance_gate(metered, OCT) is None  # explained whole
    extra = "provider,model,token_class,quantity,amount,currency\nopenai,gpt-4o,input,1,1.00,USD\n"
    run("import_invoice", "--org", metered.slug, "--period", OCT, _write(tmp_path, extra, "b.csv"))
    with within(metered):
        refusal = variance_gate(metered, OCT)
        assert refusal == (
            "2026-10: unexplained variance against the provider invoices is $1.00 (10.31% of "
            "$9.70 billed), above the 2% threshold; reconcile the month or override with a "
            "written reason"
        )
        assert variance_gate(metered, OCT, threshold_pct=Decimal("10.5")) is None


def test_close_period_is_refused_on_an_unexplained_variance_until_finance_overrides(
    metered, tmp_path
):
    """The gate is registered with billing's close gates: `close_period --close` names the
    variance, and a written override closes the month anyway (stored on the period)."""
    extra = INVOICE + "openai,gpt-4o,input,1,1.00,USD\n"
    run("import_invoice", "--org", metered.slug, "--period", OCT, _write(tmp_path, extra))
    run("close_period", "--org", metered.slug, "--period", OCT, "--issue")
    with pytest.raises(CommandError, match=r"unexplained variance against the provider invoices"):
        run("close_period", "--org", metered.slug, "--period", OCT, "--close")
    out = run("close_period", "--org", metered.slug, "--period", OCT, "--close",
              "--override-reason", "Provider confirmed a billing error; credit expected")  # fmt: skip
    assert "closed early: Provider confirmed a billing error" in out
    with within(metered):
        period = BillingPeriod.objects.get(organization=metered, month=Period.parse(OCT).first)
        assert period.state == "closed"
        assert "Provider confirmed a billing error" in period.close_override
