"""The `budgets` command's report (DESIGN.md 6.3): each budget's amount, spend, forecast,
remaining and the thresholds fired this month, amounts as decimal strings in the currency's
minor unit."""

from __future__ import annotations

import datetime as dt

from chargeback.budgets.status import budget_statuses
from chargeback.calendar import Period
from chargeback.money import quantize
from chargeback.tenancy.models import Organization


def budgets_report(
    organization: Organization,
    *,
    period: Period | None = None,
    today: dt.date | None = None,
    unit_ids: set[int] | None = None,
) -> dict:
    """`unit_ids` limits the report to those units' budgets (a team lead's reach)."""
    statuses = budget_statuses(organization, period=period, today=today, unit_ids=unit_ids)
    cur = organization.currency
    label = statuses[0].period.label if statuses else (period or _this_month(organization)).label

    def money(value) -> str:
        return str(quantize(value, cur))

    return {
        "period": label,
        "currency": cur,
        "budgets": [
            {
                "unit": s.budget.unit.code,
                "amount": money(s.budget.amount),
                "spend": money(s.spend),
                "forecast": money(s.forecast.point),
                "remaining": money(s.remaining),
                "fired": s.fired,
                "hard": s.budget.hard,
                "forecast_low": money(s.forecast.low),
                "forecast_high": money(s.forecast.high),
                "forecast_fired": s.forecast_fired,
                "next_month": money(s.next_month),
                "run_out": s.run_out.isoformat() if s.run_out else None,
                "prior_month": money(s.prior),
                "include_descendants": s.budget.include_descendants,
                "thresholds": s.budget.thresholds,
            }
            for s in statuses
        ],
    }


def _this_month(organization: Organization) -> Period:
    return Period.current(organization.tz)
