"""The forecast and the run-out date on a synthetic series with a known answer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chargeback.calendar import month_bounds
from chargeback.tenancy.scoping import within
from chargeback.usage.forecast import forecast_month, forecast_span, run_out_date
from tests.budgets.conftest import TODAY, make_budget

D = Decimal


def test_flat_series_known_answer():
    """100 a day, every day: the November forecast is 3,000 exactly (no spread: the residuals
    are zero); on the 6th with 500 spent, a budget of 1,000 runs out on the 10th."""
    today = dt.date(2026, 11, 6)
    daily = {dt.date(2026, 10, 1) + dt.timedelta(days=i): D(100) for i in range(36)}
    first, last = month_bounds(today)
    fc = forecast_month(daily, today=today, month_first=first, month_last=last)
    assert fc.point == D(3000)
    assert fc.low == fc.high == D(3000)
    assert fc.run_rate == D(100)
    assert run_out_date(daily, fc, amount=D(1000), today=today) == dt.date(2026, 11, 10)
    assert run_out_date(daily, fc, amount=D(500), today=today) == dt.date(2026, 11, 5)
    assert run_out_date(daily, fc, amount=D(3001), today=today) is None
    assert forecast_span(fc, first=dt.date(2026, 12, 1), last=dt.date(2026, 12, 31)) == D(3100)


def test_weekday_series_known_answer():
    """Weekdays 100, weekends 0: factors 1.4 and 0, the month's forecast = 100 x its weekdays,
    and a budget of 1,000 from 2026-11-02 (a Monday) runs out on the 10th weekday, the 13th."""
    daily = {}
    day = dt.date(2026, 10, 1)
    while day < dt.date(2026, 11, 2):
        daily[day] = D(100) if day.weekday() < 5 else D(0)
        day += dt.timedelta(days=1)
    today = dt.date(2026, 11, 2)
    fc = forecast_month(daily, today=today, month_first=today.replace(day=1),
                        month_last=dt.date(2026, 11, 30))  # fmt: skip
    assert fc.factors[0] == D("1.4") and fc.factors[6] == 0
    assert fc.point.quantize(D("0.01")) == D("2100.00")  # 21 weekdays in November 2026
    assert run_out_date(daily, fc, amount=D(1000), today=today) == dt.date(2026, 11, 13)


def test_budget_status_reads_the_rollup(org_a, spending):
    from chargeback.budgets.status import budget_statuses

    make_budget(org_a, spending["sales"], amount="2500", include_descendants=True)
    make_budget(org_a, spending["eu"], amount="2500", include_descendants=False)
    with within(org_a):
        by_unit = {s.budget.unit.code: s for s in budget_statuses(org_a, today=TODAY)}
    sales = by_unit["SALES"]
    assert sales.spend == D(2000)
    assert sales.forecast.point == D(3100)
    assert sales.prior == D(3000)
    assert sales.next_month == D(3000)
    assert sales.run_out == dt.date(2026, 10, 25)
    assert sales.remaining == D(500)
    assert by_unit["SALES-EU"].spend == 0  # its own spend only: the usage is on SALES-DE


def test_the_organisation_outlook(org_a, spending):
    from chargeback.budgets.status import org_outlook

    with within(org_a):
        outlook = org_outlook(org_a, today=TODAY)
    assert (outlook.spend, outlook.forecast.point) == (D(2000), D(3100))
    assert (outlook.next_month, outlook.prior) == (D(3000), D(3000))
