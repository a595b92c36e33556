"""The demo's invoices: plausible bills of the metered month with a known, mostly explained
variance."""

from __future__ import annotations

from decimal import Decimal

from chargeback.calendar import Period
from chargeback.provisioning.demo_invoices import seed_invoices
from chargeback.reconciliation.gate import variance_gate
from chargeback.reconciliation.queries import reconciliation_of
from chargeback.tenancy.scoping import within

OCT = Period.parse("2026-10")


def test_demo_invoices_have_a_variance_the_causes_mostly_explain(metered):
    with within(metered):
        assert seed_invoices(metered, OCT) == 1
        assert seed_invoices(metered, OCT) == 0  # safe to run twice
        result = reconciliation_of(metered, OCT)
        causes = {c.cause: c.amount for c in result.causes}
        assert causes["cached_pricing"] == Decimal("0.15")  # 0.6M cache reads at 1.5x $0.50
        # mystery-1's 1M input at the invoice's rate: $2.50 and the provider's unexplained 0.5%
        assert causes["alias_lag"] == Decimal("2.51")
        assert causes["discounts"] == Decimal("-0.05")  # 0.5% of $9.59
        assert result.unexplained == Decimal("0.03")  # the 0.5% on the input nothing explains
        assert Decimal(0) <= result.unexplained_pct < Decimal(2)
        assert sum(causes.values()) + result.unexplained == result.variance
        assert variance_gate(metered, OCT) is None
