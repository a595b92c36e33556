"""The close gate: a month whose unexplained variance against the provider invoices is above
the organisation's threshold (`thresholds.thresholds_of`: 2% of the billed amount by default)
is not closed (its statements made final)
unless finance overrides with a written reason. Billing cannot import this app (layers):
`close_gate` is registered with billing's close-gate registry (`billing/close_gates.py`) at
start-up."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chargeback.calendar import Period
from chargeback.money import format_money
from chargeback.reconciliation.models import ProviderInvoice
from chargeback.reconciliation.queries import reconciliation_of
from chargeback.reconciliation.thresholds import Thresholds, thresholds_of
from chargeback.tenancy.models import Organization


def variance_gate(
    org: Organization, period: Period | str, *, threshold_pct: Decimal | None = None
) -> str | None:
    """Why `period` may not be issued (the unexplained variance is above the threshold percent
    of the billed amount: `threshold_pct`, else the organisation's), or None. A month with no
    provider invoice passes: there is nothing to reconcile against."""
    rule = thresholds_of(org) if threshold_pct is None else Thresholds(threshold_pct)
    if isinstance(period, str):
        period = Period.parse(period)
    if not ProviderInvoice.objects.filter(organization=org, month=period.first).exists():
        return None
    result = reconciliation_of(org, period)
    pct = result.unexplained_pct
    if pct is None:
        if not result.unexplained:
            return None
        return (
            f"{period.label}: the provider invoices bill nothing but "
            f"{format_money(abs(result.unexplained), org.currency)} is unexplained"
        )
    if rule.variance_ok(pct):
        return None
    return (
        f"{period.label}: unexplained variance against the provider invoices is "
        f"{format_money(result.unexplained, org.currency)} ({pct}% of "
        f"{format_money(result.billed, org.currency)} billed), above the {rule.variance_text} "
        "threshold; reconcile the month or override with a written reason"
    )


def close_gate(org: Organization, period, today: dt.date) -> str | None:
    """`variance_gate` in the shape of a billing close gate (`period` is a BillingPeriod)."""
    return variance_gate(org, period.label)
