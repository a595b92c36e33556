"""Long windows read their whole months from MonthlyUsage and their daily series from
DailyUnitUsage: on generated rollup rows over eight months, every window, unit restriction and
filter gives exactly the figures of reading DailyUsage alone (Decimal for Decimal)."""

import datetime as dt
import random
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from chargeback.dashboards import month_sums, queries, showback
from chargeback.dashboards.periods import parse_window
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from chargeback.usage.models import DailyUsage
from chargeback.usage.rollup import write_rollup
from tests.conftest import _member
from tests.dashboards.conftest import TODAY

D = dt.date
SERVICES = ["chat", "search", ""]
MODELS = [("openai", "gpt-4o-mini"), ("anthropic", "m1"), ("openai", "m2")]
ENVIRONMENTS = ["production", "staging", ""]
ATTRIBUTIONS = ["gateway_key", "team_tag", "central"]
WINDOWS = [
    {},
    {"period": "month"},
    {"period": "30d"},
    {"period": "90d"},
    {"period": "2026-08"},
    {"period": "custom", "from": "2026-04-15", "to": "2026-10-20"},
    {"period": "custom", "from": "2026-05-01", "to": "2026-08-31"},
    {"period": "custom", "from": "2026-03-10", "to": "2026-03-25"},
    # the prior window (7 March - 3 June) reads March whole less 1-6 March, and the window
    # June less 1-3 June, which the prior window reads too
    {"period": "custom", "from": "2026-06-04", "to": "2026-08-31"},
]
# one dimension's filters (read from the months' rows of that dimension), and two (by day)
FILTERS = [
    queries.Filters(),
    queries.Filters(service="chat"),
    queries.Filters(provider="openai"),
    queries.Filters(model="m1"),
    queries.Filters(provider="openai", model="m2"),
    queries.Filters(environment="staging"),
    queries.Filters(service="search", environment="production"),
]


@pytest.fixture
def generated(org_a, unit_tree, now):
    """About 1,200 rollup rows from 1 March to 25 October 2026 (after today too), for every
    unit of the tree and the central one."""
    with scopes_disabled():
        units = [u.pk for u in unit_tree.values()] + [org_a.units.get(is_central=True).pk]
    rng = random.Random(18)
    # PostgreSQL's numeric is exact: 12-decimal costs. SQLite keeps binary floats read back to
    # 15 digits: multiples of 1/256 (exact in binary) small enough that no sum depends on its
    # order there.
    exact = connection.vendor == "postgresql"
    rows: dict[tuple, list] = {}
    day = D(2026, 3, 1)
    while day <= D(2026, 10, 25):
        for _ in range(5):
            provider, model = rng.choice(MODELS)
            key = (org_a.pk, day, rng.choice(units), rng.choice(SERVICES), provider, model,
                   rng.choice(ENVIRONMENTS), rng.choice(ATTRIBUTIONS))  # fmt: skip
            requests = rng.randint(1, 500)
            cost = (
                Decimal(rng.randint(1, 10**14)).scaleb(-12)
                if exact
                else Decimal(rng.randint(1, 10**5)) / 256
            )
            error_cost = cost * rng.randint(0, 1)
            rows[key] = [requests, requests // 9, requests * 700, requests * 90, requests * 5,
                         cost, error_cost, requests * 3]  # fmt: skip
        day += dt.timedelta(days=1)
    with scopes_disabled():
        write_rollup(rows)
    return unit_tree


def normal(rows):
    """Rows in a fixed order, `rows` (rollup rows read) reduced to whether there were any."""
    if rows is None:
        return None
    out = [{**r, "rows": bool(r["rows"])} for r in rows]
    return sorted(out, key=lambda r: tuple(str(v) for k, v in sorted(r.items()) if k != "rows"))


def unit_sets(tree):
    return [None, {tree["eu"].pk, tree["de"].pk}, {tree["support"].pk}, set()]


def grouping_ways():
    return [False, True] if connection.vendor == "postgresql" else [False]


def test_split_into_whole_months_and_the_days_left_in_each_month():
    assert month_sums.split(D(2026, 7, 23), D(2026, 10, 20)) == (
        [D(2026, 8, 1), D(2026, 9, 1)],
        [(D(2026, 7, 23), D(2026, 7, 31)), (D(2026, 10, 1), D(2026, 10, 20))],
    )
    assert month_sums.split(D(2026, 8, 1), D(2026, 8, 31)) == ([D(2026, 8, 1)], [])
    assert month_sums.split(D(2026, 2, 1), D(2026, 3, 31)) == ([D(2026, 2, 1), D(2026, 3, 1)], [])
    assert month_sums.split(D(2026, 10, 1), D(2026, 10, 20)) == (
        [],
        [(D(2026, 10, 1), D(2026, 10, 20))],
    )
    assert month_sums.split(D(2026, 9, 8), D(2026, 10, 20)) == (
        [],
        [(D(2026, 9, 8), D(2026, 9, 30)), (D(2026, 10, 1), D(2026, 10, 20))],
    )
    assert month_sums.split(D(2026, 1, 31), D(2026, 3, 1)) == (
        [D(2026, 2, 1)],
        [(D(2026, 1, 31), D(2026, 1, 31)), (D(2026, 3, 1), D(2026, 3, 1))],
    )  # fmt: skip


def test_a_partly_covered_month_is_read_whole_less_its_other_days_when_they_are_fewer():
    # the last 90 days on 20 October: 23-31 July from DailyUsage (9 days, fewer than July's
    # other 22); October whole less 21-31 October, days still to come that cost nothing
    got = month_sums.plan(D(2026, 7, 23), D(2026, 10, 20), today=D(2026, 10, 20))
    assert got.months == [D(2026, 8, 1), D(2026, 9, 1), D(2026, 10, 1)]
    assert got.add == [(D(2026, 7, 23), D(2026, 7, 31))]
    assert got.subtract == [(D(2026, 10, 21), D(2026, 10, 31))]
    # the 90 days before: 24 April - 22 July, April's part (7 days) read, July whole less 23-31
    got = month_sums.plan(D(2026, 4, 24), D(2026, 7, 22), today=D(2026, 10, 20))
    assert got.months == [D(2026, 5, 1), D(2026, 6, 1), D(2026, 7, 1)]
    assert (got.add, got.subtract) == (
        [(D(2026, 4, 24), D(2026, 4, 30))],
        [(D(2026, 7, 23), D(2026, 7, 31))],
    )
    # 1-12 October on 30 November: read as it is (19 + 3 days more); 1-20 October as the
    # month less 21-31 October (11 + 3 days fewer); not knowing today, as it is
    late = D(2026, 11, 30)
    assert month_sums.plan(D(2026, 10, 1), D(2026, 10, 12), late) == month_sums.Plan(
        add=[(D(2026, 10, 1), D(2026, 10, 12))]
    )
    assert month_sums.plan(D(2026, 10, 1), D(2026, 10, 20), late) == month_sums.Plan(
        months=[D(2026, 10, 1)], subtract=[(D(2026, 10, 21), D(2026, 10, 31))]
    )
    assert month_sums.plan(D(2026, 10, 1), D(2026, 10, 20)) == month_sums.Plan(
        add=[(D(2026, 10, 1), D(2026, 10, 20))]
    )
    # the 30 days before 21 September - 20 October: September less 21-30 September (which the
    # window reads too: a day may count in both, negative in one)
    got = month_sums.plan(D(2026, 8, 22), D(2026, 9, 20), TODAY)
    assert got == month_sums.Plan(
        months=[D(2026, 9, 1)], add=[(D(2026, 8, 22), D(2026, 8, 31))],
        subtract=[(D(2026, 9, 21), D(2026, 9, 30))],
    )  # fmt: skip
    # a few days in the middle of a month: the days themselves
    assert month_sums.plan(D(2026, 3, 10), D(2026, 3, 25), TODAY) == month_sums.Plan(add=[(D(2026, 3, 10), D(2026, 3, 25))])  # fmt: skip


@pytest.mark.parametrize("params", WINDOWS)
def test_breakdown_from_whole_months_equals_reading_every_day(org_a, generated, params):
    window = parse_window(params, TODAY)[0]
    compared = 0
    with within(org_a):
        for unit_ids in unit_sets(generated):
            for filters in FILTERS:
                for grouping_sets in grouping_ways():
                    read = {"unit_ids": unit_ids, "filters": filters, "window": window,
                            "grouping_sets": grouping_sets}  # fmt: skip
                    old = queries.breakdown(org_a, monthly=False, **read)
                    for today in (None, TODAY):
                        new = queries.breakdown(org_a, today=today, **read)
                        for name in ("units", "services", "models"):
                            assert normal(getattr(new, name)) == normal(getattr(old, name)), name
                        if None not in (old.environments, new.environments):
                            assert normal(new.environments) == normal(old.environments)
                        # the filter options the page offers, from the sums or their own query
                        assert queries.filter_options(
                            org_a, unit_ids=unit_ids, window=window, filters=filters, sums=new
                        ) == options_by_day(org_a, unit_ids, window)
                    compared += len(old.units)
    assert compared  # the generated rows reach the windows


def options_by_day(org, unit_ids, window):
    """The filter options as the DailyUsage rows of the window hold them."""
    seen = {d: set() for d in queries.DIMENSIONS}
    for r in DailyUsage.objects.filter(organization=org, day__gte=window.first).values():
        if r["day"] <= window.last and (unit_ids is None or r["unit_id"] in unit_ids):
            for d in queries.DIMENSIONS:
                if r[d]:
                    seen[d].add(r[d])
    return {d: sorted(v) for d, v in seen.items()}


def test_the_sums_are_the_rows_own(org_a, generated):
    """Independently of either read: the 183-day window's spend per unit for a unit subset,
    summed in Python from the DailyUsage rows."""
    window = parse_window({"period": "custom", "from": "2026-04-21", "to": "2026-10-20"}, TODAY)[0]
    ids = {generated["eu"].pk, generated["de"].pk}
    with within(org_a):
        got = queries.breakdown(
            org_a, unit_ids=ids, filters=queries.Filters(), window=window, today=TODAY
        )
        expected: dict[int, Decimal] = {}
        for r in DailyUsage.objects.filter(organization=org_a, unit_id__in=ids).values():
            if window.first <= r["day"] <= window.last:
                expected[r["unit_id"]] = expected.get(r["unit_id"], Decimal(0)) + r["cost"]
    assert {r["unit_id"]: r["cost"] for r in got.units} == expected


@pytest.mark.parametrize("params", WINDOWS[:6])
def test_daily_series_by_unit_equals_reading_every_day(org_a, generated, params):
    window = parse_window(params, TODAY)[0]
    ranges = [(window.first, window.last), (D(2026, 9, 22), D(2026, 10, 31))]
    with within(org_a):
        for unit_ids in unit_sets(generated):
            for top in ([], [generated["de"].pk], [u.pk for u in generated.values()]):
                read = {"unit_ids": unit_ids, "filters": queries.Filters(), "ranges": ranges,
                        "top": top}  # fmt: skip
                new = queries.daily(org_a, **read)
                assert normal_daily(new) == normal_daily(
                    queries.daily(org_a, by_unit=False, **read)
                )
                assert new or unit_ids == set()


def normal_daily(rows):
    return sorted(rows, key=lambda r: (r["day"], str(r["bucket"])))


def test_team_lead_90_day_overview_counts_only_their_units(org_a, generated, now):
    lead = _member(org_a, Role.TEAM_LEAD, "lead@alpha.example", units=[generated["eu"]])
    with within(org_a):
        board = showback.build(membership=lead, params={"period": "90d"})
        reach = {generated["eu"].pk, generated["de"].pk}
        spend = sum(
            (
                r["cost"]
                for r in DailyUsage.objects.filter(organization=org_a).values()
                if r["unit_id"] in reach and board.window.first <= r["day"] <= board.window.last
            ),
            Decimal(0),
        )
    assert board.unit_ids == reach
    assert board.headline.spend == spend


def page(client, org, query):
    """The overview as a user opens it, and its number of queries of the monthly rollup."""
    with CaptureQueriesContext(connection) as queries_run:
        response = client.get(f"/o/{org.slug}/?{query}")
    assert response.status_code == 200
    board = response.context["board"]
    charted = {c.key: c.rows for c in board.charts}
    read_months = sum("usage_monthlyusage" in q["sql"] for q in queries_run.captured_queries)
    return (board.headline, board.unit_rows, charted, board.options, board.forecast), read_months


@pytest.mark.parametrize(
    "window",
    ["period=custom&from=2026-04-21&to=2026-10-20", "period=90d", "period=2026-08"],
)
@pytest.mark.parametrize("filters", FILTERS[1:], ids=lambda f: "&".join(f.match))
def test_filtered_overview_from_whole_months_equals_reading_every_day(
    client_for, finance, org_a, generated, monkeypatch, window, filters
):
    """Filtered by one service, model or environment the overview reads its whole months from
    MonthlyUsage; by two, every day (the filter options, unfiltered, read the months either
    way). Each figure, chart table and filter option is the one the page shows reading
    DailyUsage alone."""
    client = client_for(finance)
    query = f"{window}&{urlencode(filters.match)}"
    got, read_months = page(client, org_a, query)
    monkeypatch.setitem(queries.breakdown.__kwdefaults__, "monthly", False)
    by_day, read_months_by_day = page(client, org_a, query)
    assert got == by_day
    # the breakdown's own query of the months, beside the filter options' and others
    assert read_months - read_months_by_day == (1 if month_sums.answering(filters.match) else 0)
    assert got[0].spend  # the filter matches spend in the window
    with within(org_a):
        assert got[3] == options_by_day(org_a, None, parse_window(QueryDict(window), TODAY)[0])
