"""The dashboards' period picker, as pure functions over dates in the organisation's timezone.

A `Window` is an inclusive range of days plus the prior window it is compared with:

| `period=`        | window                                  | prior window                         |
|------------------|-----------------------------------------|--------------------------------------|
| `month`          | this month, first to last day           | last month, whole                    |
| `mtd` (default)  | this month, first day to today          | last month's same days (clipped)     |
| `30d`, `90d`     | the last 30/90 days, today included     | the 30/90 days before                |
| `YYYY-MM`        | that month, whole                       | the month before, whole              |
| `custom`         | `from` .. `to` (default: month to date) | as many days, just before            |
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from chargeback.calendar import Period, month_bounds

CHOICES = [
    ("mtd", "Month to date"),
    ("month", "This month"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("custom", "Custom range"),
]
MAX_DAYS = 366


@dataclass(frozen=True)
class Window:
    key: str  # the `period` value: mtd, month, 30d, 90d, YYYY-MM, custom
    label: str
    first: dt.date
    last: dt.date
    prior_first: dt.date
    prior_last: dt.date

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    @property
    def prior_label(self) -> str:
        return _range_label(self.prior_first, self.prior_last)


def _range_label(first: dt.date, last: dt.date) -> str:
    if first.day == 1 and last == month_bounds(first)[1]:
        return f"{first:%B %Y}"
    if first.year == last.year:
        return f"{first:%-d %b} – {last:%-d %b %Y}"
    return f"{first:%-d %b %Y} – {last:%-d %b %Y}"


def _before(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    length = (last - first).days + 1
    return first - dt.timedelta(days=length), first - dt.timedelta(days=1)


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text or "")
    except ValueError:
        return None


def parse_window(params: Mapping[str, str], today: dt.date) -> tuple[Window, list[str]]:
    """The window the query string asks for, and the problems found (an unreadable request
    falls back to month to date rather than failing)."""
    key = (params.get("period") or "mtd").strip()
    errors: list[str] = []
    month_first, month_last = month_bounds(today)
    if key == "month":
        return _month_window("month", month_first), errors
    if key in ("30d", "90d"):
        n = int(key[:-1])
        first = today - dt.timedelta(days=n - 1)
        return _window(key, f"Last {n} days", first, today, *_before(first, today)), errors
    if key == "custom":
        first, last = _date(params.get("from")), _date(params.get("to"))
        for name, value, parsed, fallback in (
            ("from", params.get("from"), first, "the month's first day"),
            ("to", params.get("to"), last, "today"),
        ):
            if (value or "").strip() and parsed is None:
                errors.append(
                    f'"{value.strip()[:40]}" is not a valid date for {name} (YYYY-MM-DD); '
                    f"using {fallback}."
                )
        given = first is not None and last is not None
        first, last = first or month_first, last or today
        if last < first:
            if given:  # both typed, in the wrong order (not a fallback for an invalid one)
                errors.append("The end of the range is before its start; the dates were swapped.")
            first, last = last, first
        if (last - first).days >= MAX_DAYS:
            errors.append(f"A custom range is at most {MAX_DAYS} days; it was shortened.")
            first = last - dt.timedelta(days=MAX_DAYS - 1)
        label = _range_label(first, last)
        return _window("custom", label, first, last, *_before(first, last)), errors
    if key != "mtd":
        try:
            month = Period.parse(key)
        except ValueError:
            errors.append(f'"{key}" is not a period; showing month to date.')
        else:
            return _month_window(month.label, month.first), errors
    prior = Period.of(month_first).previous
    prior_first, prior_end = prior.first, prior.last
    prior_last = min(prior_first + dt.timedelta(days=today.day - 1), prior_end)
    label = f"{month_first:%B %Y} to date"
    return _window("mtd", label, month_first, today, prior_first, prior_last), errors


def _month_window(key: str, first: dt.date) -> Window:
    month = Period.of(first)
    prior = month.previous
    return _window(key, month.title, month.first, month.last, prior.first, prior.last)


def _window(
    key: str, label: str, first: dt.date, last: dt.date, prior_first: dt.date, prior_last: dt.date
) -> Window:
    return Window(key, label, first, last, prior_first, prior_last)


def recent_months(today: dt.date, count: int = 12) -> list[tuple[str, str]]:
    """(YYYY-MM, "October 2026") for the picker, newest first."""
    out = []
    month = Period.of(today)
    for _ in range(count):
        out.append((month.label, month.title))
        month = month.previous
    return out
