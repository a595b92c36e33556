"""Months and business days: the one place dates are grouped into billing months and deadlines
are counted. A bottom module: it imports no app (stdlib and `holidays` only), so every layer
may use it. Pure: dates in, dates out; "now" comes in as an argument or from the given zone.

- `Period`: a calendar month, `YYYY-MM`. `Period.parse("2026-10")`, `Period.of(day)`,
  `Period.current(zone)`; `.label` ("2026-10"), `.title` ("October 2026"), `.first`, `.last`,
  `.previous`, `.next`.
- `month_bounds(day)`: the first and last day of the month `day` is in.
- `is_month(text)`: `text` is exactly `YYYY-MM` (a year from 0001, a month 01-12).
- The organisation's business-day calendar: weekends, the public holidays of its country and
  subdivision (the `holidays` package) and its own closure days: `is_business_day`,
  `add_business_days`, `dispute_deadline`, or all of them bound in a `BusinessCalendar`
  (`BusinessCalendar.of(org)` reads `country`, `subdivision` and `closure_days` off anything
  that has them). `business_days_between` counts; `local_today` and `end_of_day` put a date in
  the organisation's timezone, so a deadline ends at local midnight whatever DST does.
- `parse_closure_days`: a list of `YYYY-MM-DD` texts -> sorted unique dates, or ValueError
  naming the entry.
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
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
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


@lru_cache(maxsize=256)
def _holidays(country: str, year: int, subdivision: str = "") -> frozenset[dt.date]:
    if not country:
        return frozenset()
    try:
        return frozenset(holidays.country_holidays(country, subdiv=subdivision or None, years=year))
    except NotImplementedError:  # a country (or subdivision) the package does not know
        if subdivision:
            return _holidays(country, year)
        return frozenset()  # weekends only


def subdivisions(country: str) -> tuple[str, ...]:
    """The subdivision codes `holidays` knows for `country` (e.g. DE: BB, BE, BW, BY, ...)."""
    known = holidays.list_supported_countries().get(country) if country else None
    return tuple(known or ())


def parse_closure_days(value: object) -> tuple[dt.date, ...]:
    """A list of `YYYY-MM-DD` texts (or dates) -> sorted unique dates. ValueError names the
    entry: `closure_days[1]: "2026-13-01" is not a date (YYYY-MM-DD)`."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise ValueError("closure_days: must be a list of dates (YYYY-MM-DD)")
    out: set[dt.date] = set()
    for index, item in enumerate(value):
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            out.add(item)
            continue
        try:
            if not isinstance(item, str) or not DATE_PATTERN.fullmatch(item):
                raise ValueError
            out.add(dt.date.fromisoformat(item))
        except ValueError:
            raise ValueError(
                f'closure_days[{index}]: "{item}" is not a date (YYYY-MM-DD)'
            ) from None
    return tuple(sorted(out))


def is_business_day(
    day: dt.date,
    country: str = "",
    *,
    subdivision: str = "",
    closures: frozenset[dt.date] | tuple[dt.date, ...] = (),
) -> bool:
    """Not a Saturday or Sunday, not a public holiday of `country` (ISO 3166 code) and its
    `subdivision`, and not one of the organisation's `closures`."""
    return (
        day.weekday() < 5
        and day not in _holidays(country, day.year, subdivision)
        and day not in closures
    )


def add_business_days(
    start: dt.date,
    days: int,
    country: str = "",
    *,
    subdivision: str = "",
    closures: frozenset[dt.date] | tuple[dt.date, ...] = (),
) -> dt.date:
    """The date `days` business days after `start` (start itself does not count)."""
    if days < 0:
        raise ValueError("days must not be negative")
    closures = frozenset(closures)
    day = start
    while days:
        day += dt.timedelta(days=1)
        if is_business_day(day, country, subdivision=subdivision, closures=closures):
            days -= 1
    return day


def business_days_between(
    start: dt.date,
    end: dt.date,
    country: str = "",
    *,
    subdivision: str = "",
    closures: frozenset[dt.date] | tuple[dt.date, ...] = (),
) -> int:
    """Business days after `start` up to and including `end` (negative when `end` is earlier):
    `add_business_days(start, n)` is the first day with `business_days_between(start, d) == n`."""
    if end < start:
        return -business_days_between(
            end, start, country, subdivision=subdivision, closures=closures
        )
    closures = frozenset(closures)
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if is_business_day(day, country, subdivision=subdivision, closures=closures):
            count += 1
    return count


def dispute_deadline(
    issued_on: dt.date,
    country: str = "",
    *,
    days: int = DISPUTE_WINDOW_DAYS,
    subdivision: str = "",
    closures: frozenset[dt.date] | tuple[dt.date, ...] = (),
) -> dt.date:
    """The last day a team lead can dispute a statement issued on `issued_on`."""
    return add_business_days(issued_on, days, country, subdivision=subdivision, closures=closures)


def _zone(zone: dt.tzinfo | str) -> dt.tzinfo:
    return zoneinfo.ZoneInfo(zone) if isinstance(zone, str) else zone


def local_today(zone: dt.tzinfo | str, now: dt.datetime | None = None) -> dt.date:
    """Today's date in `zone` (a tzinfo or an IANA name)."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(_zone(zone)).date()


def start_of_day(day: dt.date, zone: dt.tzinfo | str) -> dt.datetime:
    """The instant `day` begins in `zone`: its local midnight, as an aware datetime."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=_zone(zone))


def end_of_day(day: dt.date, zone: dt.tzinfo | str) -> dt.datetime:
    """The instant `day` ends in `zone`: the next local midnight, as an aware datetime (23 or
    25 hours after the day began when DST changes that day)."""
    following = day + dt.timedelta(days=1)
    return dt.datetime(following.year, following.month, following.day, tzinfo=_zone(zone))


@dataclass(frozen=True)
class BusinessCalendar:
    """One organisation's business days: weekends, public holidays of `country` and
    `subdivision`, and `closures` (its own closure days)."""

    country: str = ""
    subdivision: str = ""
    closures: frozenset[dt.date] = frozenset()

    @classmethod
    def of(cls, org: object) -> BusinessCalendar:
        """From anything with `country`, `subdivision` and `closure_days` (a list of
        `YYYY-MM-DD` texts), such as an organisation. Unreadable closure days are ignored
        here; settings forms and the config file refuse them."""
        try:
            closures = parse_closure_days(getattr(org, "closure_days", None) or [])
        except ValueError:
            closures = ()
        return cls(
            getattr(org, "country", "") or "",
            getattr(org, "subdivision", "") or "",
            frozenset(closures),
        )

    def _kw(self) -> dict:
        return {"subdivision": self.subdivision, "closures": self.closures}

    def is_business_day(self, day: dt.date) -> bool:
        return is_business_day(day, self.country, **self._kw())

    def add(self, start: dt.date, days: int) -> dt.date:
        return add_business_days(start, days, self.country, **self._kw())

    def between(self, start: dt.date, end: dt.date) -> int:
        return business_days_between(start, end, self.country, **self._kw())

    def deadline(self, issued_on: dt.date, days: int = DISPUTE_WINDOW_DAYS) -> dt.date:
        return dispute_deadline(issued_on, self.country, days=days, **self._kw())
