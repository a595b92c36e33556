"""Where each budget stands: the unit's spend this month from the DailyUnitUsage rollup (with its
descendants when the budget says so), the month-end forecast and its range (the overview's
method, chargeback/usage/forecast.py), next month's forecast, the day the budget runs out at
the current rate, last month's actuals, and the thresholds already fired. Reads only."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from chargeback.budgets.models import Alert, AlertKind, Budget
from chargeback.calendar import Period
from chargeback.tenancy.models import Organization
from chargeback.units.queries import parent_map
from chargeback.units.tree import descendants
from chargeback.usage.forecast import (
    HISTORY_DAYS,
    Forecast,
    forecast_month,
    forecast_span,
    run_out_date,
)
from chargeback.usage.models import DailyUnitUsage, DailyUsage

ZERO = Decimal(0)


@dataclass
class BudgetStatus:
    budget: Budget
    period: Period
    unit_ids: set[int]
    spend: Decimal
    forecast: Forecast
    next_month: Decimal
    run_out: dt.date | None
    prior: Decimal  # last month's actual spend
    fired: list[int]  # thresholds fired this month
    forecast_fired: bool

    @property
    def remaining(self) -> Decimal:
        return self.budget.amount - self.spend

    @property
    def used_percent(self) -> Decimal:
        return (self.spend * 100 / self.budget.amount).quantize(Decimal("0.1"))


def org_today(organization: Organization) -> dt.date:
    return timezone.now().astimezone(organization.tz).date()


def budget_statuses(
    organization: Organization,
    *,
    today: dt.date | None = None,
    period: Period | None = None,
    unit_ids: set[int] | None = None,
    budgets: list[Budget] | None = None,
) -> list[BudgetStatus]:
    """Each budget's status for `period` (default: this month) as seen on `today` (default:
    today in the organisation's timezone; for a past month, its last day). `unit_ids` limits
    the budgets to those units (a team lead's reach); `budgets` replaces the stored ones (e.g.
    budgets not saved yet)."""
    today = today or org_today(organization)
    period = period or Period.of(today)
    if today > period.last:
        today = period.last
    if budgets is None:
        budgets = list(Budget.objects.filter(organization=organization).select_related("unit"))
    if unit_ids is not None:
        budgets = [b for b in budgets if b.unit_id in unit_ids]
    if not budgets:
        return []
    parents = parent_map(organization)
    first = min(period.previous.first, today - dt.timedelta(days=HISTORY_DAYS))
    series: dict[int, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    rows = DailyUnitUsage.objects.filter(
        organization=organization, day__gte=first, day__lte=period.last
    ).values_list("unit_id", "day", "cost")
    for unit_id, day, cost in rows:  # one row per unit and day
        series[unit_id][day] += Decimal(cost)
    fired = _fired(organization, period)
    out = []
    for budget in budgets:
        ids = (
            descendants(parents, [budget.unit_id])
            if budget.include_descendants
            else {budget.unit_id}
        )
        daily: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
        for uid in ids:
            for day, cost in series.get(uid, {}).items():
                daily[day] += cost
        out.append(_status(budget, period, ids, dict(daily), today, fired))
    return out


def _status(budget, period, ids, daily, today, fired) -> BudgetStatus:
    month = {d: v for d, v in daily.items() if d <= period.last}
    forecast = forecast_month(
        month,
        today=today,
        month_first=period.first,
        month_last=period.last,
        first_data_day=min(month, default=None),
    )
    nxt = period.next
    prior = period.previous
    kinds = fired.get(budget.unit_id, set())
    return BudgetStatus(
        budget=budget,
        period=period,
        unit_ids=ids,
        spend=sum((v for d, v in daily.items() if period.first <= d <= period.last), ZERO),
        forecast=forecast,
        next_month=forecast_span(forecast, first=nxt.first, last=nxt.last),
        run_out=run_out_date(month, forecast, amount=budget.amount, today=today),
        prior=sum((v for d, v in daily.items() if prior.first <= d <= prior.last), ZERO),
        fired=sorted(t for kind, t in kinds if kind == AlertKind.THRESHOLD),
        forecast_fired=any(kind == AlertKind.FORECAST for kind, _ in kinds),
    )


def _fired(organization: Organization, period: Period) -> dict[int, set[tuple[str, int]]]:
    out: dict[int, set[tuple[str, int]]] = defaultdict(set)
    rows = Alert.objects.filter(organization=organization, month=period.label).values_list(
        "unit_id", "kind", "threshold"
    )
    for unit_id, kind, threshold in rows:
        out[unit_id].add((kind, threshold))
    return out


def top_drivers(
    organization: Organization, *, unit_ids: set[int], period: Period, limit: int = 3
) -> list[dict]:
    """The month's biggest (model, service) pairs of those units, by cost."""
    rows = (
        DailyUsage.objects.filter(
            organization=organization,
            unit_id__in=unit_ids,
            day__gte=period.first,
            day__lte=period.last,
        )
        .values("provider", "model", "service")
        .annotate(cost=Sum("cost"))
        .order_by("-cost", "model", "service")[:limit]
    )
    return [
        {
            "provider": r["provider"],
            "model": r["model"],
            "service": r["service"],
            "cost": format(Decimal(r["cost"]).normalize(), "f"),
        }
        for r in rows
    ]


@dataclass
class Outlook:
    """The organisation's month: spend so far, the forecast with its range, next month's
    forecast and last month's actuals (all units, budgets or not)."""

    period: Period
    spend: Decimal
    forecast: Forecast
    next_month: Decimal
    prior: Decimal


def org_outlook(organization: Organization, *, today: dt.date | None = None) -> Outlook:
    today = today or org_today(organization)
    period = Period.of(today)
    first = min(period.previous.first, today - dt.timedelta(days=HISTORY_DAYS))
    rows = (
        DailyUnitUsage.objects.filter(
            organization=organization, day__gte=first, day__lte=period.last
        )
        .values("day")
        .annotate(cost=Sum("cost"))
        .order_by()
    )
    daily = {r["day"]: Decimal(r["cost"]) for r in rows}
    forecast = forecast_month(
        daily,
        today=today,
        month_first=period.first,
        month_last=period.last,
        first_data_day=min(daily, default=None),
    )
    nxt, prior = period.next, period.previous
    return Outlook(
        period=period,
        spend=sum((v for d, v in daily.items() if d >= period.first), ZERO),
        forecast=forecast,
        next_month=forecast_span(forecast, first=nxt.first, last=nxt.last),
        prior=sum((v for d, v in daily.items() if prior.first <= d <= prior.last), ZERO),
    )
