"""The day a unit's wallet runs out at the current rate: the unit's priced usage per day (the
DailyUnitUsage rollup, the organisation's days) forecast with the overview's method
(chargeback.usage.forecast), and the day this month on which the spend from today on would use
up what the wallet has available. None when the month ends first, or for the central pool (it
pays baselines, not a unit's traffic)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from chargeback.calendar import Period, local_today
from chargeback.tenancy.models import Organization
from chargeback.usage.forecast import HISTORY_DAYS, forecast_month, run_out_date
from chargeback.usage.models import DailyUnitUsage
from chargeback.wallets.models import Wallet

ZERO = Decimal(0)


def run_out_dates(
    organization: Organization, wallets: list[Wallet], *, now: dt.datetime | None = None
) -> dict[int, dt.date | None]:
    """{wallet id: the run-out day or None}, with one query for all the wallets' units."""
    today = local_today(organization.tz, now)
    period = Period.of(today)
    unit_ids = {w.unit_id for w in wallets if w.unit_id is not None}
    series: dict[int, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    if unit_ids:
        rows = DailyUnitUsage.objects.filter(
            organization=organization,
            unit_id__in=unit_ids,
            day__gte=min(period.first, today - dt.timedelta(days=HISTORY_DAYS)),
            day__lte=today,
        ).values_list("unit_id", "day", "cost")
        for unit_id, day, cost in rows:  # one row per unit and day
            series[unit_id][day] += Decimal(cost)
    out: dict[int, dt.date | None] = {}
    for w in wallets:
        daily = series.get(w.unit_id) if w.unit_id is not None else None
        if not daily:
            out[w.pk] = None
            continue
        out[w.pk] = wallet_run_out(daily, available=w.available, today=today, period=period)
    return out


def wallet_run_out(
    daily: dict[dt.date, Decimal], *, available: Decimal, today: dt.date, period: Period
) -> dt.date | None:
    """The day the month's spend passes what was spent before today plus `available`."""
    if available <= 0:
        return today
    forecast = forecast_month(
        daily, today=today, month_first=period.first, month_last=period.last,
        first_data_day=min(daily),
    )  # fmt: skip
    spent_before = sum((v for d, v in daily.items() if period.first <= d < today), ZERO)
    return run_out_date(daily, forecast, amount=spent_before + available, today=today)
