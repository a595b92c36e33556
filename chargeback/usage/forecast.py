"""The month's spend forecast: a run rate with weekday seasonality, and a range. Pure.

Method (all in Decimal, days in the organisation's timezone):

1. History is the 28 complete days before today (four of each weekday). Missing days count
   as zero spend.
2. The run rate is their mean daily spend. Each weekday's factor is that weekday's mean
   divided by the run rate (so Mondays may be 1.3 and Sundays 0.4; the factors average 1).
   With fewer than 14 days of history there is no seasonality: every factor is 1.
3. A remaining day of the month (today included, since it is not over) is forecast at
   run rate x its weekday's factor; today counts at least what it has already spent.
4. The forecast for the month = spend of the month's complete days + the remaining days'
   forecasts.
5. The range is the forecast ± 1.645 x s x sqrt(n + n²/h): s is the standard deviation of
   the history's daily residuals (actual minus the seasonal fit), n the number of remaining
   days and h the days of history. n is the day-to-day noise of the remaining days; n²/h
   the uncertainty of the run rate itself, which every remaining day shares. About a 90%
   band if daily errors are independent. The low end never goes below what has already
   been spent.

`tests/dashboards/test_forecast.py` back-tests the method on generated traffic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

HISTORY_DAYS = 28
SEASONAL_MIN_DAYS = 14
Z_90 = Decimal("1.645")
ZERO = Decimal(0)


@dataclass(frozen=True)
class Forecast:
    month_first: dt.date
    month_last: dt.date
    actual: Decimal  # the month so far, today included
    point: Decimal
    low: Decimal
    high: Decimal
    run_rate: Decimal  # mean daily spend over the history
    history_days: int  # days of history that had any data behind them
    factors: tuple[Decimal, ...]  # Monday .. Sunday


def forecast_month(
    daily: Mapping[dt.date, Decimal],
    *,
    today: dt.date,
    month_first: dt.date,
    month_last: dt.date,
    first_data_day: dt.date | None = None,
) -> Forecast:
    """`daily` maps days to spend (any days; only the history and this month are read).
    History starts at `first_data_day` (default: the first day in `daily`) if that is later,
    so the days before usage began are not read as zeros."""
    first_data_day = first_data_day or min(daily, default=today)
    start = max(today - dt.timedelta(days=HISTORY_DAYS), first_data_day)
    history = [start + dt.timedelta(days=i) for i in range((today - start).days)]
    values = [Decimal(daily.get(d, ZERO)) for d in history]
    run_rate = sum(values, ZERO) / len(values) if values else ZERO
    factors = _factors(history, values, run_rate)

    done = [
        Decimal(v)
        for d, v in daily.items()
        if month_first <= d < min(today, month_last + dt.timedelta(days=1))
    ]
    actual_done = sum(done, ZERO)
    today_actual = Decimal(daily.get(today, ZERO)) if month_first <= today <= month_last else ZERO
    remaining = [
        month_first + dt.timedelta(days=i)
        for i in range((month_last - month_first).days + 1)
        if month_first + dt.timedelta(days=i) >= today
    ]
    predicted = ZERO
    for day in remaining:
        guess = run_rate * factors[day.weekday()]
        predicted += max(guess, today_actual) if day == today else guess
    point = actual_done + predicted

    residuals = [v - run_rate * factors[d.weekday()] for d, v in zip(history, values, strict=True)]
    n, h = Decimal(len(remaining)), Decimal(max(1, len(values)))
    spread = _stdev(residuals) * Z_90 * (n + n * n / h).sqrt()
    actual = actual_done + today_actual
    return Forecast(
        month_first=month_first,
        month_last=month_last,
        actual=actual,
        point=point,
        low=max(actual, point - spread),
        high=point + spread,
        run_rate=run_rate,
        history_days=len(values),
        factors=tuple(factors),
    )


def _factors(history: list[dt.date], values: list[Decimal], run_rate: Decimal) -> list[Decimal]:
    if len(values) < SEASONAL_MIN_DAYS or run_rate == 0:
        return [Decimal(1)] * 7
    sums = [ZERO] * 7
    counts = [0] * 7
    for day, value in zip(history, values, strict=True):
        sums[day.weekday()] += value
        counts[day.weekday()] += 1
    return [(sums[w] / counts[w]) / run_rate if counts[w] else Decimal(1) for w in range(7)]


def _stdev(values: list[Decimal]) -> Decimal:
    if len(values) < 2:
        return ZERO
    mean = sum(values, ZERO) / len(values)
    return (sum(((v - mean) ** 2 for v in values), ZERO) / (len(values) - 1)).sqrt()


def forecast_span(forecast: Forecast, *, first: dt.date, last: dt.date) -> Decimal:
    """The spend forecast for the days `first`..`last` (e.g. next month) at the forecast's run
    rate and weekday factors."""
    days = (last - first).days + 1
    return sum(
        (
            forecast.run_rate * forecast.factors[(first + dt.timedelta(days=i)).weekday()]
            for i in range(days)
        ),
        ZERO,
    )


def run_out_date(
    daily: Mapping[dt.date, Decimal], forecast: Forecast, *, amount: Decimal, today: dt.date
) -> dt.date | None:
    """The day within the forecast's month on which the month's spend reaches `amount`: the
    actual day if it already has, else the forecast day at the current rate (today counted at
    least at what it has spent). None when the month ends first."""
    total = ZERO
    day = forecast.month_first
    while day < min(today, forecast.month_last + dt.timedelta(days=1)):
        total += Decimal(daily.get(day, ZERO))
        if total >= amount:
            return day
        day += dt.timedelta(days=1)
    while day <= forecast.month_last:
        guess = forecast.run_rate * forecast.factors[day.weekday()]
        total += max(guess, Decimal(daily.get(day, ZERO))) if day == today else guess
        if total >= amount:
            return day
        day += dt.timedelta(days=1)
    return None
