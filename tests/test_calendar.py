"""chargeback.calendar: months and business days. Pure; no database."""

import datetime as dt
import zoneinfo

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargeback.calendar import (
    Period,
    add_business_days,
    dispute_deadline,
    is_business_day,
    is_month,
    month_bounds,
)

D = dt.date
# Away from year 1 and 9999, whose neighbouring months do not exist.
days = st.dates(min_value=D(2, 1, 1), max_value=D(9998, 12, 31))
# The years every sampled country's holidays cover (India's: 2001 to 2035).
business_dates = st.dates(min_value=D(2001, 1, 1), max_value=D(2035, 11, 30))
countries = st.sampled_from(["", "US", "DE", "GB", "FR", "JP", "IN", "BR", "ZZ"])


def test_parse_a_month():
    assert Period.parse("2026-10") == Period("2026-10", D(2026, 10, 1), D(2026, 10, 31))
    assert Period.parse("2028-2") == Period("2028-02", D(2028, 2, 1), D(2028, 2, 29))
    assert Period.parse("2026-10").title == "October 2026"


@pytest.mark.parametrize("text", ["2026-13", "2026", "2026-10-01", "October", "", "2026-00"])
def test_parse_refuses_what_is_not_a_month(text):
    with pytest.raises(ValueError, match=r'^period: "' + text + r'" is not a month \(YYYY-MM\)$'):
        Period.parse(text)


def test_is_month_is_strict():
    assert is_month("2026-10") and is_month("0001-01")
    for text in ("2026-1", "0000-01", "2026-13", " 2026-10", "2026-10\n", "２０２６-10"):
        assert not is_month(text), text


def test_next_and_previous_cross_the_year():
    december = Period.parse("2026-12")
    assert december.next == Period.parse("2027-01")
    assert december.next.previous == december
    assert Period.parse("2026-03").previous.last == D(2026, 2, 28)


def test_current_month_is_the_zones():
    now = dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC)
    assert Period.current("UTC", now).label == "2026-10"
    assert Period.current("Europe/Berlin", now).label == "2026-11"
    assert Period.current(zoneinfo.ZoneInfo("America/New_York"), now).label == "2026-10"


def test_business_days_skip_weekends_and_holidays():
    # Friday 24 December 2026; 25 December is a holiday in Germany, 26-27 a weekend.
    assert add_business_days(D(2026, 12, 24), 1, "DE") == D(2026, 12, 28)
    assert add_business_days(D(2026, 12, 24), 1) == D(2026, 12, 25)
    assert not is_business_day(D(2026, 12, 25), "DE")
    assert dispute_deadline(D(2026, 12, 21), "US") == D(2026, 12, 29)
    assert add_business_days(D(2026, 12, 24), 0, "DE") == D(2026, 12, 24)
    with pytest.raises(ValueError, match="must not be negative"):
        add_business_days(D(2026, 12, 24), -1)


@given(day=days)
def test_a_month_round_trips_through_its_label(day):
    month = Period.of(day)
    assert month.first <= day <= month.last
    assert Period.parse(month.label) == month
    assert is_month(month.label)
    assert (month.first, month.last) == month_bounds(day)
    assert month.next.previous == month == month.previous.next


@given(day=days)
def test_months_are_contiguous(day):
    month = Period.of(day)
    assert month.first.day == 1
    assert month.last + dt.timedelta(days=1) == month.next.first
    assert month.previous.last + dt.timedelta(days=1) == month.first
    assert 28 <= (month.last - month.first).days + 1 <= 31


@given(start=business_dates, country=countries)
def test_dispute_deadline_is_a_business_day(start, country):
    deadline = dispute_deadline(start, country)
    assert is_business_day(deadline, country)
    assert deadline.weekday() < 5
    if country in ("DE", "US", "GB"):
        assert deadline not in holidays.country_holidays(country, years=deadline.year)


@given(
    start=business_dates,
    n=st.integers(min_value=1, max_value=40),
    country=countries,
)
def test_add_business_days_lands_on_a_business_day_and_counts_each(start, n, country):
    end = add_business_days(start, n, country)
    assert is_business_day(end, country) and end.weekday() < 5
    between = [start + dt.timedelta(days=i) for i in range(1, (end - start).days + 1)]
    assert sum(is_business_day(d, country) for d in between) == n
    assert add_business_days(add_business_days(start, n - 1, country), 1, country) == end
