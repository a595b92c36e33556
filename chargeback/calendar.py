"""Months and business days: the one place dates are grouped into billing months and deadlines
are counted. A bottom module: it imports no app (stdlib and `holidays` only), so every layer
may use it. Pure: dates in, dates out; "now" comes in as an argument or from the given zone.

- `Period`: a calendar month, `YYYY-MM`. `Period.parse("2026-10")`, `Period.of(day)`,
  `Period.current(zone)`; `.label` ("2026-10"), `.title` ("October 2026"), `.first`, `.last`,
  `.previous`, `.next`.
- `month_bounds(day)`: the first and last day of the month `day` is in.
- `is_month(text)`: `text` is exactly `YYYY-MM` (a year from 0001, a month 01-12).
- The organisation's business-day calendar: weekends and the public holidays of its country
  (the `holidays` package): `is_business_day`, `add_business_days`, `dispute_deadline`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

import holidays

MONTH_PATTERN = re.compile(r"(?!0000)[0-9]{4}-(0[1-9]|1[0-2])")
DISPUTE_WINDOW_DAYS = 5


def is_month(text: str) -> bool:
    """Exactly `YYYY-MM`: four ASCII digits (not 0000), a dash, a month 01 to 12."""
    return MONTH_PATTERN.fullmatch(text) is not None


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    """The first and the last day of the month `day` is in."""
    first = day.replace(day=1)
    return first, first.replace(day=calendar.monthrange(day.year, day.month)[1])


@dataclass(frozen=True)
class Period:
    """A calendar month: `label` is `YYYY-MM`, `first` and `last` its first and last day."""

    label: str
    first: dt.date
    last: dt.date

    @classmethod
    def parse(cls, text: str) -> Period:
        """`"2026-10"` -> October 2026; ValueError `period: "..." is not a month (YYYY-MM)`."""
        try:
            year, month = (int(p) for p in text.split("-"))
            first = dt.date(year, month, 1)
        except ValueError as exc:
            raise ValueError(f'period: "{text}" is not a month (YYYY-MM)') from exc
        return cls.of(first)

    @classmethod
    def of(cls, day: dt.date) -> Period:
        """The month `day` is in."""
        first, last = month_bounds(day)
        return cls(f"{first.year:04d}-{first.month:02d}", first, last)

    @classmethod
    def current(cls, zone: dt.tzinfo | str, now: dt.datetime | None = None) -> Period:
        """This month in `zone` (a tzinfo or an IANA name such as "Europe/Berlin")."""
        tz = zoneinfo.ZoneInfo(zone) if isinstance(zone, str) else zone
        return cls.of((now or dt.datetime.now(dt.UTC)).astimezone(tz).date())

    @property
    def title(self) -> str:
        """`October 2026`."""
        return f"{self.first:%B %Y}"

    @property
    def previous(self) -> Period:
        return Period.of(self.first - dt.timedelta(days=1))

    @property
    def next(self) -> Period:
        return Period.of(self.last + dt.timedelta(days=1))


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[dt.date]:
    if not country:
        return frozenset()
    try:
        return frozenset(holidays.country_holidays(country, years=year))
    except NotImplementedError:  # a country the package does not know: weekends only
        return frozenset()


def is_business_day(day: dt.date, country: str = "") -> bool:
    """Not a Saturday or Sunday, and not a public holiday of `country` (ISO 3166 code)."""
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
