"""The forecast method, and its back-test on generated traffic with weekday seasonality."""

import datetime as dt
import random
from decimal import Decimal

from chargeback.calendar import month_bounds
from chargeback.usage.forecast import forecast_month

D = dt.date


def generated(days: int, *, seed: int = 7, growth: str = "0.001") -> dict[dt.date, Decimal]:
    """Weekdays busy, weekends quiet, ±15% daily noise, slow growth: like the demo's traffic."""
    rng = random.Random(seed)
    weekday = [Decimal(f) for f in ("1.25", "1.3", "1.3", "1.25", "1.1", "0.45", "0.35")]
    start = D(2026, 1, 1)
    out = {}
    for i in range(days):
        day = start + dt.timedelta(days=i)
        level = Decimal(1000) * (1 + Decimal(growth)) ** i
        noise = Decimal(str(round(rng.uniform(0.85, 1.15), 4)))
        out[day] = (level * weekday[day.weekday()] * noise).quantize(Decimal("0.000001"))
    return out


def test_flat_history_forecasts_the_run_rate():
    daily = {D(2026, 9, 1) + dt.timedelta(days=i): Decimal(10) for i in range(60)}
    f = forecast_month(
        daily, today=D(2026, 10, 11), month_first=D(2026, 10, 1), month_last=D(2026, 10, 31)
    )
    assert (f.actual, f.point, f.low, f.high, f.run_rate) == (
        Decimal(110),
        Decimal(310),
        Decimal(310),
        Decimal(310),
        Decimal(10),
    )
    assert f.factors == (Decimal(1),) * 7


def test_weekday_seasonality_is_used():
    # Weekdays 10, weekends 0: the rest of the month is priced weekday by weekday.
    daily = {}
    for i in range(60):
        day = D(2026, 9, 1) + dt.timedelta(days=i)
        daily[day] = Decimal(10) if day.weekday() < 5 else Decimal(0)
    today = D(2026, 10, 20)
    f = forecast_month(daily, today=today, month_first=D(2026, 10, 1), month_last=D(2026, 10, 31))
    remaining_weekdays = sum(1 for d in range(20, 32) if D(2026, 10, d).weekday() < 5)
    done = sum(v for d, v in daily.items() if D(2026, 10, 1) <= d < today)
    assert f.point == done + 10 * remaining_weekdays
    assert f.low == f.high == f.point  # a perfect fit has no spread


def test_no_history_forecasts_the_month_so_far():
    f = forecast_month(
        {}, today=D(2026, 10, 20), month_first=D(2026, 10, 1), month_last=D(2026, 10, 31)
    )
    assert (f.actual, f.point, f.low, f.high, f.history_days) == (0, 0, 0, 0, 0)


def test_a_late_start_is_not_read_as_zero_days():
    daily = {D(2026, 10, 15) + dt.timedelta(days=i): Decimal(5) for i in range(5)}
    f = forecast_month(
        daily, today=D(2026, 10, 20), month_first=D(2026, 10, 1), month_last=D(2026, 10, 31),
        first_data_day=D(2026, 10, 15),
    )  # fmt: skip
    assert (f.run_rate, f.point) == (Decimal(5), Decimal(25 + 12 * 5))


def backtest(daily: dict[dt.date, Decimal]) -> tuple[list[Decimal], Decimal]:
    """Forecast months 3..6 from days 5, 10, 15, 20 and 25; the errors and the range's hit rate."""
    errors, hits, runs = [], 0, 0
    for month in range(3, 7):
        first, last = month_bounds(D(2026, month, 1))
        actual = sum(v for d, v in daily.items() if first <= d <= last)
        for cut in (5, 10, 15, 20, 25):
            f = forecast_month(daily, today=D(2026, month, cut), month_first=first, month_last=last)
            errors.append(abs(f.point - actual) / actual)
            hits += f.low <= actual <= f.high
            runs += 1
    return errors, Decimal(hits) / runs


def pooled(growth: str) -> tuple[Decimal, Decimal, Decimal]:
    errors, hit_rates = [], []
    for seed in range(1, 11):
        e, h = backtest(generated(200, seed=seed, growth=growth))
        errors += e
        hit_rates.append(h)
    return sum(errors, Decimal(0)) / len(errors), max(errors), sum(hit_rates) / len(hit_rates)


def test_backtest_error_bound():
    """Ten generated histories (weekday seasonality, ±15% daily noise), 200 forecasts each
    way. Measured when written: with 0.1%/day growth the month's forecast is off by 1.7% on
    average and 8.0% at worst (forecasts made on the 5th), and the range holds the outcome
    69% of the time (the method has no trend term, so growth biases it low); flat traffic:
    1.3%, 8.9% and 83%."""
    mean, worst, hits = pooled("0.001")
    assert (mean < Decimal("0.02"), worst < Decimal("0.10"), hits >= Decimal("0.65")) == (True,) * 3
    mean, worst, hits = pooled("0")
    assert (mean < Decimal("0.015"), worst < Decimal("0.10"), hits >= Decimal("0.8")) == (True,) * 3
