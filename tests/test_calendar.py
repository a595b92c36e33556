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


# The organisation's calendar: subdivision, closure days, timezone ----------------------------

from chargeback.calendar import (  # noqa: E402
    BusinessCalendar,
    business_days_between,
    end_of_day,
    local_today,
    parse_closure_days,
)


def test_a_deadline_crosses_the_year_end_skipping_christmas_and_new_year():
    # Issued Wednesday 23 December 2026 in Germany: 24th (closure), 25th and 26th (holidays),
    # the weekend, 28-31 December, 1 January (holiday) -> 28, 29, 30, 31 Dec, 4 Jan.
    berlin = BusinessCalendar("DE", "", frozenset({D(2026, 12, 24)}))
    assert berlin.deadline(D(2026, 12, 23)) == D(2027, 1, 4)
    # Without the closure day the 24th counts.
    assert dispute_deadline(D(2026, 12, 23), "DE") == D(2026, 12, 31)


def test_a_holiday_on_a_monday_and_on_a_friday_is_skipped():
    # Good Friday 3 April 2026 and Easter Monday 6 April 2026 (DE).
    assert add_business_days(D(2026, 4, 2), 1, "DE") == D(2026, 4, 7)
    assert add_business_days(D(2026, 4, 1), 2, "DE") == D(2026, 4, 7)
    # Weekends only: the Friday and the Monday count.
    assert add_business_days(D(2026, 4, 2), 1) == D(2026, 4, 3)


def test_the_subdivision_adds_its_own_holidays():
    # Epiphany (6 January) is a holiday in Bavaria, not in Berlin.
    assert is_business_day(D(2026, 1, 6), "DE")
    assert not is_business_day(D(2026, 1, 6), "DE", subdivision="BY")
    bavaria = BusinessCalendar("DE", "BY")
    assert bavaria.add(D(2026, 1, 5), 1) == D(2026, 1, 7)
    # An unknown subdivision falls back to the country's holidays.
    assert not is_business_day(D(2026, 12, 25), "DE", subdivision="ZZ")


def test_a_closure_day_is_not_a_business_day():
    closures = (D(2026, 12, 7),)
    assert not is_business_day(D(2026, 12, 7), closures=closures)
    assert add_business_days(D(2026, 12, 4), 1, closures=closures) == D(2026, 12, 8)


def test_a_deadline_that_would_fall_on_a_holiday_moves_to_the_next_business_day():
    # Five business days after Thursday 24 September 2026 would be Thursday 1 October; with
    # German Unity Day on Saturday 3 October nothing moves, but in 2025 it was a Friday:
    # issued Friday 26 September 2025 -> 3 Oct would be day 5 -> it is a holiday -> Monday 6th.
    assert add_business_days(D(2025, 9, 26), 5) == D(2025, 10, 3)
    assert dispute_deadline(D(2025, 9, 26), "DE") == D(2025, 10, 6)


def test_business_days_between_counts_like_add():
    cal = BusinessCalendar("DE", "BY", frozenset({D(2026, 12, 24)}))
    start = D(2026, 12, 20)
    for n in range(12):
        end = cal.add(start, n)
        assert cal.between(start, end) == n
        assert business_days_between(end, start, "DE", subdivision="BY",
                                     closures=cal.closures) == -n  # fmt: skip


@given(business_dates, st.integers(min_value=0, max_value=25), st.sets(business_dates, max_size=5))
def test_closure_days_never_end_a_deadline(start, n, closures):
    cal = BusinessCalendar("DE", "BY", frozenset(closures))
    end = cal.add(start, n)
    assert end not in closures or n == 0
    assert cal.between(start, end) == n


def test_the_organisations_calendar_reads_its_settings():
    class Org:
        country, subdivision, closure_days = "DE", "BY", ["2026-12-24", "2026-12-31"]

    cal = BusinessCalendar.of(Org())
    assert cal == BusinessCalendar("DE", "BY", frozenset({D(2026, 12, 24), D(2026, 12, 31)}))


def test_closure_days_are_parsed_strictly():
    assert parse_closure_days(["2026-12-31", "2026-12-24", "2026-12-24"]) == (
        D(2026, 12, 24),
        D(2026, 12, 31),
    )
    with pytest.raises(ValueError, match=r'^closure_days\[1\]: "2026-13-01" is not a date'):
        parse_closure_days(["2026-12-24", "2026-13-01"])
    with pytest.raises(ValueError, match=r'^closure_days\[0\]: "24.12.2026" is not a date'):
        parse_closure_days(["24.12.2026"])
    with pytest.raises(ValueError, match=r"^closure_days: must be a list"):
        parse_closure_days("2026-12-24")


def test_the_deadline_ends_at_local_midnight_across_dst():
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    # Sunday 29 March 2026: clocks go forward; the day has 23 hours.
    start = dt.datetime(2026, 3, 29, tzinfo=berlin)
    assert end_of_day(D(2026, 3, 29), berlin).astimezone(dt.UTC) - start.astimezone(
        dt.UTC
    ) == dt.timedelta(hours=23)
    # Sunday 25 October 2026: clocks go back; the day has 25 hours.
    start = dt.datetime(2026, 10, 25, tzinfo=berlin)
    assert (end_of_day(D(2026, 10, 25), "Europe/Berlin").astimezone(dt.UTC)
            - start.astimezone(dt.UTC)) == dt.timedelta(hours=25)  # fmt: skip
    # 23:30 UTC on 26 October is already the 27th in Berlin (CET, +1).
    assert local_today("Europe/Berlin", dt.datetime(2026, 10, 26, 23, 30, tzinfo=dt.UTC)) == D(
        2026, 10, 27
    )
    # In summer (+2) 22:30 UTC is the next day too, 21:30 UTC is not.
    assert local_today(berlin, dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC)) == D(2026, 7, 2)
    assert local_today(berlin, dt.datetime(2026, 7, 1, 21, 30, tzinfo=dt.UTC)) == D(2026, 7, 1)
