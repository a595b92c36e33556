"""The budget page's figures come from the per-unit-day rollup (DailyUnitUsage), not the
daily rows, and are exactly those of the daily rows: spend, forecast, run-out day and last
month, per budget and for the organisation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from chargeback.calendar import Period
from chargeback.usage.forecast import forecast_month, forecast_span, run_out_date
from tests.budgets.conftest import TODAY, cost_per_day, make_budget, spread_usage


def test_budget_page_reads_unit_days_and_shows_the_daily_rows_figures(
    client_for, finance, org_a, unit_tree, now
):
    units = [unit_tree["sales"], unit_tree["eu"], unit_tree["de"], unit_tree["support"]]
    spread_usage(org_a, units, dt.date(2026, 7, 20), dt.date(2026, 10, 25))
    make_budget(org_a, unit_tree["sales"], amount="900", include_descendants=True)
    make_budget(org_a, unit_tree["support"], amount="700")
    with CaptureQueriesContext(connection) as run:
        response = client_for(finance).get("/o/alpha/budgets/")
    assert response.status_code == 200
    assert not [q for q in run.captured_queries if "usage_dailyusage" in q["sql"]]
    period = Period.of(TODAY)
    statuses = response.context["statuses"]
    assert len(statuses) == 2
    for status in statuses:
        daily = cost_per_day(org_a, status.unit_ids)
        month = {d: v for d, v in daily.items() if d <= period.last}
        forecast = forecast_month(month, today=TODAY, month_first=period.first,
                                  month_last=period.last, first_data_day=min(month))  # fmt: skip
        assert status.forecast == forecast
        assert status.spend == sum(v for d, v in month.items() if d >= period.first)
        assert status.prior == sum(
            v for d, v in daily.items() if period.previous.first <= d <= period.previous.last
        )
        assert status.run_out == run_out_date(
            month, forecast, amount=status.budget.amount, today=TODAY
        )
        assert status.run_out is not None  # the budgets run out this month
    everything = {u.pk for u in units}
    daily = {d: v for d, v in cost_per_day(org_a, everything).items() if d <= period.last}
    forecast = forecast_month(daily, today=TODAY, month_first=period.first,
                              month_last=period.last, first_data_day=min(daily))  # fmt: skip
    outlook = response.context["outlook"]
    assert outlook.forecast == forecast
    assert outlook.next_month == forecast_span(
        forecast, first=period.next.first, last=period.next.last
    )
    assert outlook.spend == sum((v for d, v in daily.items() if d >= period.first), Decimal(0))
