"""The organisation's business-day calendar: weekends and the public holidays of its country
(the `holidays` package). Pure: dates in, dates out."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

DISPUTE_WINDOW_DAYS = 5


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    if not country:
        return frozenset()
    try:
        return frozenset(holidays.country_holidays(country, years=year))
    except NotImplementedError:  # a country the package does not know: weekends only
        return frozenset()


def is_business_day(day: dt.date, country: str = "") -> bool:
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def add_business_days(start: dt.date, days: int, country: str = "") -> dt.date:
    """The date `days` business days after `start` (start itself does not count)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    while days:
        day += dt.timedelta(days=1)
        if is_business_day(day, country):
            days -= 1
    return day


def dispute_deadline(issued_on: dt.date, country: str = "") -> dt.date:
    """The last day a team lead can dispute a statement issued on `issued_on`."""
    return add_business_days(issued_on, DISPUTE_WINDOW_DAYS, country)
