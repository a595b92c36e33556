"""The dashboards' grouped reads: exact sums per dimension, the prior window, the fallback's
share, the daily buckets; and on PostgreSQL, the GROUPING SETS query equals the per-dimension
queries it replaces."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from chargeback.dashboards import queries
from chargeback.dashboards.periods import parse_window
from chargeback.tenancy.scoping import within
from tests.dashboards.conftest import TODAY, rollup

D = dt.date
ZERO = Decimal(0)


@pytest.fixture
def rows(org_a, unit_tree, now):
    u = unit_tree
    # the window is 1-20 October 2026 (month to date); the prior window 1-20 September
    rollup(
        org_a,
        u["eu"],
        D(2026, 10, 3),
        cost="1.000000000001",
        requests=5,
        service="chat",
        input_tokens=100,
        output_tokens=10,
        cached=7,
    )
    rollup(
        org_a,
        u["eu"],
        D(2026, 10, 4),
        cost="2",
        requests=3,
        service="chat",
        model="m2",
        attribution="central",
        errors=1,
        error_cost="0.5",
        environment="staging",
    )
    rollup(
        org_a,
        u["de"],
        D(2026, 10, 20),
        cost="4",
        requests=2,
        service="",
        provider="anthropic",
        model="m1",
    )
    rollup(org_a, u["de"], D(2026, 9, 20), cost="8", service="", provider="anthropic", model="m1")
    rollup(org_a, u["de"], D(2026, 9, 21), cost="16")  # in neither window
    rollup(org_a, u["support"], D(2026, 10, 21), cost="32")  # after today
    return u  # fmt: skip


def window():
    return parse_window({}, TODAY)[0]


def sums(**values):
    out = {"rows": 0, "requests": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0,
           "cached_input_tokens": 0, "cost": ZERO, "error_cost": ZERO, "central_cost": ZERO,
           "prior_cost": ZERO}  # fmt: skip
    return out | {k: Decimal(v) if isinstance(v, str) else v for k, v in values.items()}


def by(rows, *keys):
    return sorted(rows, key=lambda r: tuple(r[k] for k in keys))


@pytest.mark.parametrize("grouping_sets", [None, False])
def test_breakdown_sums_each_dimension(org_a, rows, grouping_sets):
    with within(org_a):
        b = queries.breakdown(
            org_a,
            unit_ids=None,
            filters=queries.Filters(),
            window=window(),
            grouping_sets=grouping_sets,
        )
        eu = sums(rows=2, requests=8, errors=1, input_tokens=1100, output_tokens=210, cached_input_tokens=7,
                  cost="3.000000000001", error_cost="0.5", central_cost="2")  # fmt: skip
        de = sums(
            rows=1, requests=2, input_tokens=1000, output_tokens=200, cost="4", prior_cost="8"
        )
        assert by(b.units, "unit_id") == [
            {"unit_id": rows["eu"].pk, **eu},
            {"unit_id": rows["de"].pk, **de},
        ]
        assert by(b.services, "service") == [
            {"service": "", **de},
            {"service": "chat", **eu},
        ]
        assert by(b.models, "provider", "model") == [
            {"provider": "anthropic", "model": "m1", **de},
            {"provider": "openai", "model": "gpt-4o-mini",
             **sums(rows=1, requests=5, input_tokens=100, output_tokens=10, cached_input_tokens=7,
                    cost="1.000000000001")},
            {"provider": "openai", "model": "m2",
             **sums(rows=1, requests=3, errors=1, input_tokens=1000, output_tokens=200, cost="2",
                    error_cost="0.5", central_cost="2")},
        ]  # fmt: skip


def test_breakdown_respects_reach_and_filters(org_a, rows):
    with within(org_a):
        b = queries.breakdown(
            org_a,
            unit_ids={rows["de"].pk},
            filters=queries.Filters(provider="anthropic"),
            window=window(),
        )
        assert [(r["unit_id"], r["cost"], r["prior_cost"]) for r in b.units] == [
            (rows["de"].pk, Decimal(4), Decimal(8))
        ]
        assert (
            queries.breakdown(
                org_a, unit_ids=set(), filters=queries.Filters(), window=window()
            ).units
            == []
        )


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="GROUPING SETS is the PostgreSQL path"
)
def test_grouping_sets_equal_the_per_dimension_queries(org_a, rows):
    with within(org_a):
        for unit_ids, filters in [
            (None, queries.Filters()),
            ({rows["eu"].pk}, queries.Filters(environment="staging")),
            (None, queries.Filters(service="chat", model="m2")),
        ]:
            read = {"unit_ids": unit_ids, "filters": filters, "window": window()}
            one = queries.breakdown(org_a, grouping_sets=True, **read)
            each = queries.breakdown(org_a, grouping_sets=False, **read)
            assert by(one.units, "unit_id") == by(each.units, "unit_id")
            assert by(one.services, "service") == by(each.services, "service")
            assert by(one.models, "provider", "model") == by(each.models, "provider", "model")
        envs = queries.breakdown(org_a, grouping_sets=True, unit_ids=None, filters=queries.Filters(),
                                 window=window()).environments  # fmt: skip
        assert [(r["environment"], r["rows"], r["cost"]) for r in by(envs, "environment")] == [
            ("production", 2, Decimal("5.000000000001")),
            ("staging", 1, Decimal(2)),
        ]


def test_daily_buckets_the_tail_and_reads_several_ranges(org_a, rows):
    with within(org_a):
        read = {"unit_ids": None, "filters": queries.Filters()}
        ranges = [(D(2026, 10, 3), D(2026, 10, 4)), (D(2026, 9, 20), D(2026, 9, 20))]
        got = queries.daily(org_a, ranges=ranges, top=[rows["eu"].pk], **read)
        assert by(got, "day") == [
            {"day": D(2026, 9, 20), "bucket": None, "cost": Decimal(8), "requests": 10, "errors": 0,
             "error_cost": ZERO},
            {"day": D(2026, 10, 3), "bucket": rows["eu"].pk, "cost": Decimal("1.000000000001"),
             "requests": 5, "errors": 0, "error_cost": ZERO},
            {"day": D(2026, 10, 4), "bucket": rows["eu"].pk, "cost": Decimal(2), "requests": 3,
             "errors": 1, "error_cost": Decimal("0.5")},
        ]  # fmt: skip
        by_model = queries.daily(
            org_a, ranges=[(D(2026, 10, 1), D(2026, 10, 20))], stack="model",
            top=[("openai", "m2")], **read,
        )  # fmt: skip
        assert [(r["day"], r["bucket"], r["cost"]) for r in by(by_model, "day")] == [
            (D(2026, 10, 3), None, Decimal("1.000000000001")),
            (D(2026, 10, 4), "openai/m2", Decimal(2)),
            (D(2026, 10, 20), None, Decimal(4)),
        ]


def test_filter_options_come_from_the_breakdown_without_a_dimension_filter(org_a, rows):
    with within(org_a):
        w = window()
        queried = queries.filter_options(org_a, unit_ids=None, window=w)
        assert queried == {
            "provider": ["anthropic", "openai"],
            "model": ["gpt-4o-mini", "m1", "m2"],
            "service": ["chat"],
            "environment": ["production", "staging"],
        }
        row = {"rows": 1}
        b = queries.Breakdown(
            units=[],
            services=[
                {"service": "chat", **row},
                {"service": "", **row},
                {"service": "gone", "rows": 0},
            ],
            models=[{"provider": "openai", "model": "m2", **row}],
            environments=[{"environment": "staging", **row}],
        )
        derived = queries.filter_options(
            org_a, unit_ids=None, window=w, filters=queries.Filters(), sums=b
        )
        assert derived == {"provider": ["openai"], "model": ["m2"], "service": ["chat"],
                           "environment": ["staging"]}  # fmt: skip
        # a dimension filter narrows the breakdown, so the options are queried
        filtered = queries.filter_options(
            org_a, unit_ids=None, window=w, filters=queries.Filters(provider="openai"), sums=b
        )
        assert filtered == queried
