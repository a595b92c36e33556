"""Chart builders, figures and the cheaper-mix arithmetic: pure functions, equality asserts."""

import datetime as dt
from decimal import Decimal

from chargeback.dashboards import charts, figures
from chargeback.dashboards.charts import Column
from chargeback.dashboards.partial_day import PALE, mark_partial_day
from chargeback.dashboards.queries import UnitInfo
from chargeback.dashboards.savings import Saving, cheaper_mix
from chargeback.pricing.prices import Rates

D = dt.date
DAYS = [D(2026, 10, 1), D(2026, 10, 2)]


def dim(
    unit_id,
    cost,
    prior="0",
    *,
    service="svc",
    provider="openai",
    model="m1",
    central="0",
    requests=1,
):
    return {
        "unit_id": unit_id, "service": service, "provider": provider, "model": model,
        "requests": requests, "errors": 0, "input_tokens": 100, "output_tokens": 10,
        "cached_input_tokens": 0, "cost": Decimal(cost), "error_cost": Decimal(0),
        "central_cost": Decimal(central), "prior_cost": Decimal(prior),
    }  # fmt: skip


SUMMED = ("requests", "errors", "input_tokens", "output_tokens", "cached_input_tokens", "cost",
          "error_cost", "central_cost", "prior_cost")  # fmt: skip


def group(rows, *keys):
    """What `queries.breakdown` returns for one grouping, summed here from finer rows."""
    out: dict = {}
    for r in rows:
        k = tuple(r[key] for key in keys)
        acc = out.setdefault(k, {**dict(zip(keys, k, strict=True)), **dict.fromkeys(SUMMED, 0)})
        for f in SUMMED:
            acc[f] += r[f]
    return list(out.values())


def breakdown(rows):
    return {
        "services": group(rows, "service"),
        "models": group(rows, "provider", "model"),
    }


def test_daily_by_unit_stacks_units_and_fills_missing_days():
    rows = [
        {"day": DAYS[0], "unit_id": 1, "cost": Decimal("1.5")},
        {"day": DAYS[1], "unit_id": 2, "cost": Decimal("4")},
        {"day": DAYS[1], "unit_id": 1, "cost": Decimal("0.25")},
    ]
    chart = charts.daily_by_unit(rows, days=DAYS, names={1: "Sales", 2: "Support"}, currency="USD")
    assert [(s["name"], s["x"], s["y"]) for s in chart.figure["data"]] == [
        ("Support", ["2026-10-01", "2026-10-02"], [0.0, 4.0]),
        ("Sales", ["2026-10-01", "2026-10-02"], [1.5, 0.25]),
    ]
    assert chart.figure["layout"]["barmode"] == "stack"
    assert chart.columns == (
        Column("Day", "date"),
        Column("Support", "money"),
        Column("Sales", "money"),
        Column("Total", "money"),
    )
    assert chart.rows == (
        (DAYS[0], Decimal(0), Decimal("1.5"), Decimal("1.5")),
        (DAYS[1], Decimal(4), Decimal("0.25"), Decimal("4.25")),
    )
    assert chart.csv_rows() == [
        ["Day", "Support", "Sales", "Total"],
        ["2026-10-01", "0", "1.5", "1.5"],
        ["2026-10-02", "4", "0.25", "4.25"],
    ]


def test_daily_by_unit_lumps_the_tail_into_other_units():
    rows = [{"day": DAYS[0], "unit_id": i, "cost": Decimal(100 - i)} for i in range(10)]
    chart = charts.daily_by_unit(
        rows, days=DAYS[:1], names={i: f"U{i}" for i in range(10)}, currency="USD"
    )
    assert [s["name"] for s in chart.figure["data"]] == [f"U{i}" for i in range(8)] + [
        "Other units"
    ]
    assert chart.figure["data"][-1]["y"] == [92.0 + 91.0]
    assert chart.rows[0][-1] == sum(Decimal(100 - i) for i in range(10))


def test_empty_rows_make_empty_charts():
    assert charts.daily_by_unit([], days=DAYS, names={}, currency="USD").empty
    assert charts.model_mix([], currency="USD").empty
    assert charts.error_spend(
        [{"day": DAYS[0], "errors": 0, "error_cost": Decimal(0)}], days=DAYS, currency="USD"
    ).empty


def test_model_mix_provider_services_and_errors():
    rows = [
        dim(1, "3", model="small"),
        dim(2, "1", model="small", service=""),
        dim(1, "6", provider="anthropic", model="big"),
    ]
    mix = charts.model_mix(rows, currency="USD")
    assert mix.rows == (
        ("anthropic", "big", 1, 110, Decimal(6), Decimal("0.6")),
        ("openai", "small", 2, 220, Decimal(4), Decimal("0.4")),
    )
    assert mix.figure["data"][0]["labels"] == ["anthropic/big", "openai/small"]
    assert mix.figure["data"][0]["values"] == [6.0, 4.0]
    assert charts.by_provider(rows, currency="EUR").rows == (
        ("anthropic", Decimal(6), Decimal("0.6")),
        ("openai", Decimal(4), Decimal("0.4")),
    )
    services = charts.top_services(rows, currency="USD")
    assert services.rows == (
        ("svc", 2, Decimal(9), Decimal("0.9")),
        ("(no service tag)", 1, Decimal(1), Decimal("0.1")),
    )
    assert services.figure["data"][0]["y"] == ["(no service tag)", "svc"]  # largest on top
    errors = charts.error_spend(
        [{"day": DAYS[1], "errors": 3, "error_cost": Decimal("0.75")}], days=DAYS, currency="USD"
    )
    assert errors.rows == ((DAYS[0], 0, Decimal(0)), (DAYS[1], 3, Decimal("0.75")))
    assert errors.figure["data"][0]["y"] == [0.0, 0.75]


def test_csv_rows_keep_full_precision_and_blank_nones():
    chart = charts.Chart(
        "k",
        "t",
        {},
        (Column("a"), Column("b", "money")),
        (("x", Decimal("0.000000000123")), ("y", None)),
    )
    assert chart.csv_rows() == [["a", "b"], ["x", "0.000000000123"], ["y", ""]]


def test_headline_and_driver():
    rows = [
        dim(1, "100", "40", service="chat", model="m1", central="10"),
        dim(2, "50", "60", service="search", model="m1"),
        dim(2, "10", "0", service="search", model="m2"),
    ]
    h = figures.headline(
        group(rows, "unit_id"), **breakdown(rows), names={1: "Sales", 2: "Support"}
    )
    assert (h.spend, h.prior, h.change, h.unallocated) == (
        Decimal(160),
        Decimal(100),
        Decimal(60),
        Decimal(10),
    )
    assert (h.change_share, h.unallocated_share, h.coverage) == (
        Decimal("0.6"),
        Decimal("0.0625"),
        Decimal("0.9375"),
    )
    # Sales and chat both moved +60; units come first.
    assert h.driver == figures.Driver("unit", "Sales", Decimal(60))


def test_driver_ignores_a_dimension_with_one_value():
    rows = [dim(1, "10", "0", service="a"), dim(1, "0", "5", service="b")]
    units = group(rows, "unit_id")
    assert figures.main_driver(units=units, **breakdown(rows), names={1: "Solo"}) == (
        figures.Driver("service", "a", Decimal(10))
    )
    same = [dim(1, "5", "5")]
    assert figures.main_driver(units=same, **breakdown(same), names={1: "Solo"}) is None


def test_unit_rows_share_change_coverage_and_sorting():
    units = {
        1: UnitInfo(1, None, "A", "Alpha", "chargeback", False, False),
        2: UnitInfo(2, None, "B", "Beta", "showback", True, False),
        3: UnitInfo(3, None, "C", "Gamma", "showback", False, False),
    }
    rows = [dim(1, "30", "10", requests=5), dim(2, "70", "0", central="35"), dim(3, "0", "20")]
    table = figures.unit_rows(rows, units)
    assert [(r.code, r.spend, r.share, r.change, r.coverage) for r in table] == [
        ("B", Decimal(70), Decimal("0.7"), Decimal(70), Decimal("0.5")),
        ("A", Decimal(30), Decimal("0.3"), Decimal(20), Decimal(1)),
        ("C", Decimal(0), Decimal(0), Decimal(-20), None),
    ]
    assert [r.code for r in figures.unit_rows(rows, units, sort="name")] == ["A", "B", "C"]
    assert [r.code for r in figures.unit_rows(rows, units, sort="-name")] == ["C", "B", "A"]
    assert [r.code for r in figures.unit_rows(rows, units, sort="change")] == ["C", "A", "B"]
    assert [r.code for r in figures.unit_rows(rows, units, sort="-requests")] == ["A", "B", "C"]
    assert [r.code for r in figures.unit_rows(rows, units, sort="bogus")] == ["B", "A", "C"]
    assert [r.code for r in figures.unit_rows(rows, {1: units[1]})] == ["A"]  # out of view: gone


def test_cheaper_mix_prices_tokens_at_the_providers_cheapest_model():
    prices = {
        ("openai", "big"): Rates(input=Decimal(10), output=Decimal(30)),
        ("openai", "small"): Rates(
            input=Decimal("0.15"), output=Decimal("0.60"), cached_input=Decimal("0.075")
        ),
        ("anthropic", "claude"): Rates(input=Decimal(3), output=Decimal(15)),
        ("internal", "bot"): Rates(input=None, output=None, per_request=Decimal("0.01")),
    }
    rows = [
        {"provider": "openai", "model": "big", "requests": 10, "input_tokens": 2_000_000,
         "output_tokens": 1_000_000, "cached_input_tokens": 1_000_000, "cost": Decimal(50)},
        {"provider": "anthropic", "model": "claude", "requests": 1, "input_tokens": 1_000_000,
         "output_tokens": 0, "cached_input_tokens": 0, "cost": Decimal(3)},
        {"provider": "internal", "model": "bot", "requests": 100, "input_tokens": 0,
         "output_tokens": 0, "cached_input_tokens": 0, "cost": Decimal(1)},
    ]  # fmt: skip
    result = cheaper_mix(rows, prices)
    # small: 1M plain input x 0.15 + 1M cached x 0.075 + 1M output x 0.60 = 0.825
    assert result == [
        Saving("openai", "big", 10, 3_000_000, Decimal(50), "small", Decimal("0.825")),
        Saving("anthropic", "claude", 1, 1_000_000, Decimal(3), "claude", Decimal(3)),
        Saving("internal", "bot", 100, 0, Decimal(1), "bot", Decimal(1)),
    ]
    assert [s.saving for s in result] == [Decimal("49.175"), 0, 0]
    chart = charts.cheaper_mix(result, currency="USD")
    assert chart.rows[0] == (
        "openai",
        "big",
        10,
        3_000_000,
        Decimal(50),
        "small",
        Decimal("0.825"),
        Decimal("49.175"),
    )


def test_daily_by_model_lumps_what_the_query_summed_and_the_tail():
    rows = [{"day": DAYS[0], "model": f"p/m{i}", "cost": Decimal(100 - i)} for i in range(9)]
    rows += [
        {"day": DAYS[1], "model": None, "cost": Decimal("0.5")},  # already summed in SQL
        {"day": DAYS[1], "model": "p/m0", "cost": Decimal(1)},
    ]
    chart = charts.daily_by_model(rows, days=DAYS, currency="USD")
    assert chart.key == "daily" and chart.title == "Daily spend by model"
    assert [s["name"] for s in chart.figure["data"]] == [f"p/m{i}" for i in range(8)] + [
        "Other models"
    ]
    assert chart.figure["data"][-1]["y"] == [92.0, 0.5]  # p/m8 on day one, the rest on day two
    assert chart.rows[1] == (DAYS[1], Decimal(1), *[Decimal(0)] * 7, Decimal("0.5"), Decimal("1.5"))


def test_cost_per_1k_divides_each_day_and_leaves_days_without_requests_empty():
    rows = [
        {"day": DAYS[0], "requests": 3, "cost": Decimal("0.002")},
        {"day": DAYS[0], "requests": 0, "cost": Decimal("0.001")},  # no requests, still paid
    ]
    chart = charts.cost_per_1k(rows, days=DAYS, currency="EUR")
    assert chart.rows == (
        (DAYS[0], 3, Decimal("0.003"), Decimal("1.000000")),
        (DAYS[1], 0, Decimal(0), None),
    )
    assert chart.figure["data"][0]["y"] == [1.0, None]
    assert chart.figure["data"][0]["connectgaps"] is False
    assert chart.csv_rows()[1:] == [["2026-10-01", "3", "0.003", "1"], ["2026-10-02", "0", "0", ""]]
    assert charts.cost_per_1k([], days=DAYS, currency="EUR").empty


def test_axes_show_enough_decimals_for_small_amounts():
    def fmt(cost: str) -> str:
        rows = [{"day": DAYS[0], "errors": 1, "error_cost": Decimal(cost)}]
        chart = charts.error_spend(rows, days=DAYS, currency="USD")
        assert chart.figure["data"][0]["hovertemplate"] == (
            f"%{{x}}: %{{y:{chart.figure['layout']['yaxis']['tickformat']}}}<extra></extra>"
        )
        return chart.figure["layout"]["yaxis"]["tickformat"]

    assert [fmt(c) for c in ("1234.5", "1", "0.5", "0.05", "0.0032", "0.000000001")] == [
        ",.2f", ",.2f", ",.2f", ",.3f", ",.4f", ",.6f",
    ]  # fmt: skip


def test_the_current_day_is_marked_as_partial():
    days = [dt.date(2026, 10, 5), dt.date(2026, 10, 6)]
    rows = [{"day": d, "unit_id": 1, "cost": Decimal("10")} for d in days]
    chart = charts.daily_by_unit(rows, days=days, names={1: "Support"}, currency="USD")
    marked = mark_partial_day(chart, dt.date(2026, 10, 6))
    assert marked.figure["data"][0]["marker"]["opacity"] == [1, PALE]
    (band,) = marked.figure["layout"]["shapes"]
    assert (band["x0"], band["x1"]) == ("2026-10-05 12:00", "2026-10-06 12:00")
    assert marked.figure["layout"]["annotations"][0]["text"] == "today so far"
    assert marked.rows == chart.rows  # the table and the CSV are unchanged
    assert mark_partial_day(chart, dt.date(2026, 10, 7)) is chart  # a past window: as it was


def test_the_model_mix_donut_keeps_its_legend_below_and_few_slices():
    rows = [
        {"provider": "p", "model": f"m{i:02d}", "requests": 1, "input_tokens": 1,
         "output_tokens": 1, "cost": Decimal(20 - i)}
        for i in range(12)
    ]  # fmt: skip
    mix = charts.model_mix(rows, currency="USD")
    pie = mix.figure["data"][0]
    assert len(pie["labels"]) == charts.TOP_SERIES + 1 and pie["labels"][-1] == "Other models"
    assert pie["values"][-1] == float(sum(20 - i for i in range(8, 12)))
    assert mix.figure["layout"]["legend"]["orientation"] == "h"
    assert len(mix.rows) == 12  # the table keeps every model
