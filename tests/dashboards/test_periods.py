import datetime as dt

import pytest

from chargeback.dashboards.periods import Window, parse_window, recent_months

TODAY = dt.date(2026, 10, 20)
D = dt.date


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, Window("mtd", "October 2026 to date", D(2026, 10, 1), TODAY, D(2026, 9, 1), D(2026, 9, 20))),
        ({"period": "mtd"}, Window("mtd", "October 2026 to date", D(2026, 10, 1), TODAY, D(2026, 9, 1), D(2026, 9, 20))),
        ({"period": "month"}, Window("month", "October 2026", D(2026, 10, 1), D(2026, 10, 31), D(2026, 9, 1), D(2026, 9, 30))),
        ({"period": "30d"}, Window("30d", "Last 30 days", D(2026, 9, 21), TODAY, D(2026, 8, 22), D(2026, 9, 20))),
        ({"period": "90d"}, Window("90d", "Last 90 days", D(2026, 7, 23), TODAY, D(2026, 4, 24), D(2026, 7, 22))),
        ({"period": "2026-02"}, Window("2026-02", "February 2026", D(2026, 2, 1), D(2026, 2, 28), D(2026, 1, 1), D(2026, 1, 31))),
        ({"period": "2026-03"}, Window("2026-03", "March 2026", D(2026, 3, 1), D(2026, 3, 31), D(2026, 2, 1), D(2026, 2, 28))),
        (
            {"period": "custom", "from": "2026-10-05", "to": "2026-10-11"},
            Window("custom", "5 Oct – 11 Oct 2026", D(2026, 10, 5), D(2026, 10, 11), D(2026, 9, 28), D(2026, 10, 4)),
        ),
        (
            {"period": "custom"},
            Window("custom", "1 Oct – 20 Oct 2026", D(2026, 10, 1), TODAY, D(2026, 9, 11), D(2026, 9, 30)),
        ),
    ],
)  # fmt: skip
def test_windows(params, expected):
    assert parse_window(params, TODAY) == (expected, [])


def test_month_to_date_prior_is_clipped_to_the_shorter_month():
    window, _ = parse_window({"period": "mtd"}, D(2026, 3, 31))
    assert (window.prior_first, window.prior_last) == (D(2026, 2, 1), D(2026, 2, 28))


def test_bad_input_falls_back_and_says_why():
    window, errors = parse_window({"period": "2026-13"}, TODAY)
    assert window.key == "mtd"
    assert errors == ['"2026-13" is not a period; showing month to date.']
    window, errors = parse_window(
        {"period": "custom", "from": "2026-10-11", "to": "2026-10-05"}, TODAY
    )
    assert (window.first, window.last) == (D(2026, 10, 5), D(2026, 10, 11))
    assert errors == ["The end of the range is before its start; the dates were swapped."]
    window, errors = parse_window(
        {"period": "custom", "from": "2020-01-01", "to": "2026-10-05"}, TODAY
    )
    assert (window.last - window.first).days == 365 and len(errors) == 1
    window, errors = parse_window({"period": "custom", "from": "nonsense"}, TODAY)
    assert (window.first, errors) == (
        D(2026, 10, 1),
        ['"nonsense" is not a valid date for from (YYYY-MM-DD); using the month\'s first day.'],
    )
    # an invalid start and an end before the month: the invalid date is the problem, not a swap
    window, errors = parse_window(
        {"period": "custom", "from": "garbage", "to": "2026-09-20"}, TODAY
    )
    assert (window.first, window.last) == (D(2026, 9, 20), D(2026, 10, 1))
    assert errors == [
        '"garbage" is not a valid date for from (YYYY-MM-DD); using the month\'s first day.'
    ]


def test_days_and_recent_months():
    window, _ = parse_window({"period": "custom", "from": "2026-10-30", "to": "2026-11-02"}, TODAY)
    assert window.days == [D(2026, 10, 30), D(2026, 10, 31), D(2026, 11, 1), D(2026, 11, 2)]
    assert recent_months(D(2026, 2, 10), 3) == [
        ("2026-02", "February 2026"),
        ("2026-01", "January 2026"),
        ("2025-12", "December 2025"),
    ]
