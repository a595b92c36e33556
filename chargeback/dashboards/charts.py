"""Chart figures as plain dicts, built by pure functions from rollup rows.

Each builder returns a `Chart`: the Plotly figure (Decimal turned into float only here, at the
last step, for drawing) and the table of exactly the same numbers (kept in Decimal), which the
page shows as the chart's table view and serves as its CSV download."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from chargeback.dashboards.plotly_text import escape_figure
from chargeback.money import plot_number

ZERO = Decimal(0)
TOP_SERIES = 8  # a stacked chart's own series; the rest are summed
TOP_SERVICES = 10
NO_SERVICE = "(no service tag)"
OTHER_UNITS = "Other units"
OTHER_MODELS = "Other models"
PER_1K_STEP = Decimal("0.000001")
PALETTE = [
    "#1f5fbf", "#e8833a", "#2e9e6b", "#b9475a", "#7b61c9",
    "#3aa6b9", "#c9a227", "#6b7a8f", "#d46fa8", "#8a5a44",
]  # fmt: skip


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"  # text | date | money | int | percent
    total: bool = True  # summed in the total row of the CSV for people (money and int only)


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    figure: dict
    columns: tuple[Column, ...]
    rows: tuple[tuple, ...]

    @property
    def drawn(self) -> dict:
        """The figure as the page draws it: names and labels as plain text (`plotly_text`)."""
        return escape_figure(self.figure)

    @property
    def empty(self) -> bool:
        return not self.rows

    def csv_rows(self) -> list[list[str]]:
        """The table as CSV rows: a header, then plain values (amounts at full precision)."""
        return [[c.label for c in self.columns]] + [[_csv(v) for v in row] for row in self.rows]


def _csv(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _fmt(values: Iterable[Decimal]) -> str:
    """A d3 number format for an axis and its hover labels: cents, or as many decimals as
    the largest value needs to show two significant digits (error spend is often a fraction
    of a cent), at most six."""
    top = max((abs(v) for v in values if v is not None), default=ZERO)
    if top >= 1 or top == 0:
        return ",.2f"
    decimals = min(6, max(2, -top.adjusted() + 1))
    return f",.{decimals}f"


def _layout(currency: str, fmt: str = ",.2f", **extra: object) -> dict:
    layout = {
        "margin": {"l": 60, "r": 20, "t": 10, "b": 40},
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "colorway": PALETTE,
        "separators": ".,",
        "legend": {"orientation": "h", "y": -0.15},
        "yaxis": {"title": {"text": currency}, "tickformat": fmt, "gridcolor": "#e2e6ec"},
    }
    layout.update(extra)
    return layout


def share(part: Decimal, total: Decimal) -> Decimal:
    return (part / total).quantize(Decimal("0.0001")) if total else ZERO


def daily_by_unit(
    rows: Iterable[Mapping],
    *,
    days: Sequence[dt.date],
    names: Mapping[int, str],
    currency: str,
) -> Chart:
    """Daily spend stacked by unit; rows carry `day`, `unit_id` (None: units already lumped
    together by the query) and `cost`. The eight units with most spend get their own series;
    the rest are summed as "Other units"."""
    per = _per_day(rows, "unit_id")
    return _stacked(
        per,
        labels={u: names.get(u, f"unit {u}") for u in per if u is not None},
        other=OTHER_UNITS,
        days=days,
        key="daily",
        title="Daily spend by unit",
        currency=currency,
    )


def daily_by_model(rows: Iterable[Mapping], *, days: Sequence[dt.date], currency: str) -> Chart:
    """Daily spend stacked by model; rows carry `day`, `model` ("provider/model", or None for
    models already lumped together) and `cost`. Eight series at most, then "Other models"."""
    per = _per_day(rows, "model")
    return _stacked(
        per,
        labels={m: m for m in per if m is not None},
        other=OTHER_MODELS,
        days=days,
        key="daily",
        title="Daily spend by model",
        currency=currency,
    )


def _per_day(rows: Iterable[Mapping], key: str) -> dict:
    per: dict = defaultdict(lambda: defaultdict(lambda: ZERO))
    for r in rows:
        per[r[key]][r["day"]] += Decimal(r["cost"])
    return per


def _stacked(
    per: Mapping,
    *,
    labels: Mapping,
    other: str,
    days: Sequence[dt.date],
    key: str,
    title: str,
    currency: str,
) -> Chart:
    """A stacked daily bar chart: the TOP_SERIES series with most spend (ties by label), then
    the rest, and the series keyed None, summed as `other`."""
    totals = {k: sum(d.values(), ZERO) for k, d in per.items()}
    ranked = sorted((k for k in per if k is not None), key=lambda k: (-totals[k], labels[k]))
    series: list[tuple[str, Mapping[dt.date, Decimal]]] = [
        (labels[k], per[k]) for k in ranked[:TOP_SERIES]
    ]
    rest = ranked[TOP_SERIES:] + ([None] if None in per else [])
    if rest:
        lumped: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
        for k in rest:
            for day, cost in per[k].items():
                lumped[day] += cost
        series.append((other, lumped))
    x = [d.isoformat() for d in days]
    fmt = _fmt(sum((v.get(d, ZERO) for _n, v in series), ZERO) for d in days)
    data = [
        {
            "type": "bar",
            "name": name,
            "x": x,
            "y": [plot_number(values.get(d, ZERO)) for d in days],
            "hovertemplate": f"%{{x}}<br>%{{fullData.name}}: %{{y:{fmt}}}<extra></extra>",
        }
        for name, values in series
    ]
    table = (
        tuple(
            (
                d,
                *(values.get(d, ZERO) for _n, values in series),
                sum((v.get(d, ZERO) for _n, v in series), ZERO),
            )
            for d in days
        )
        if series
        else ()
    )
    return Chart(
        key=key,
        title=title,
        figure={
            "data": data,
            "layout": _layout(currency, fmt, barmode="stack", xaxis={"type": "date"}),
        },
        columns=(
            Column("Day", "date"),
            *(Column(n, "money") for n, _ in series),
            Column("Total", "money"),
        ),
        rows=table,
    )


def cost_per_1k(rows: Iterable[Mapping], *, days: Sequence[dt.date], currency: str) -> Chart:
    """Cost per 1,000 requests, per day: the day's spend / its requests x 1,000 (failed and
    retried requests count, as they are paid for). Rows carry `day`, `requests`, `cost`. A day
    without requests has no value (a gap in the line, an empty cell in the table)."""
    requests: dict[dt.date, int] = defaultdict(int)
    costs: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    for r in rows:
        requests[r["day"]] += r["requests"]
        costs[r["day"]] += Decimal(r["cost"])
    per_1k = {
        d: (costs[d] * 1000 / requests[d]).quantize(PER_1K_STEP) if requests[d] else None
        for d in days
    }
    fmt = _fmt(per_1k.values())
    table = (
        tuple((d, requests[d], costs[d], per_1k[d]) for d in days)
        if any(requests[d] for d in days)
        else ()
    )
    return Chart(
        key="per1k",
        title="Cost per 1K requests",
        figure={
            "data": [
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": "Cost per 1K requests",
                    "x": [d.isoformat() for d in days],
                    "y": [None if per_1k[d] is None else plot_number(per_1k[d]) for d in days],
                    "line": {"color": PALETTE[4], "width": 2},
                    "marker": {"size": 5},
                    "connectgaps": False,
                    "hovertemplate": f"%{{x}}: %{{y:{fmt}}} per 1K requests<extra></extra>",
                }
            ],
            "layout": _layout(
                currency,
                xaxis={"type": "date"},
                yaxis={
                    "title": {"text": f"{currency} per 1K requests"},
                    "tickformat": fmt,
                    "gridcolor": "#e2e6ec",
                    "rangemode": "tozero",
                },
            ),
        },
        columns=(
            Column("Day", "date"),
            Column("Requests", "int"),
            Column("Spend", "money"),
            Column("Cost per 1K requests", "money", total=False),
        ),
        rows=table,
    )


def model_mix(rows: Iterable[Mapping], *, currency: str) -> Chart:
    """Spend by provider and model; rows carry `provider`, `model`, `requests`,
    `input_tokens`, `output_tokens`, `cost`. Largest first."""
    merged: dict[tuple[str, str], list] = {}
    for r in rows:
        acc = merged.setdefault((r["provider"], r["model"]), [0, 0, ZERO])
        acc[0] += r["requests"]
        acc[1] += r["input_tokens"] + r["output_tokens"]
        acc[2] += Decimal(r["cost"])
    total = sum((a[2] for a in merged.values()), ZERO)
    ordered = sorted(merged.items(), key=lambda kv: (-kv[1][2], kv[0]))
    table = tuple(
        (p, m, req, tok, cost, share(cost, total)) for (p, m), (req, tok, cost) in ordered
    )
    # The donut shows the largest models and the rest as one slice, with the legend below it:
    # a legend of every model beside it left the donut a few pixels wide.
    slices = [(f"{p}/{m}", cost) for p, m, _r, _t, cost, _s in table[:TOP_SERIES]]
    if len(table) > TOP_SERIES:
        slices.append((OTHER_MODELS, sum((r[4] for r in table[TOP_SERIES:]), ZERO)))
    labels = [label for label, _cost in slices]
    return Chart(
        key="models",
        title="Model mix",
        figure={
            "data": [
                {
                    "type": "pie",
                    "hole": 0.55,
                    "labels": labels,
                    "values": [plot_number(cost) for _label, cost in slices],
                    "sort": False,
                    "textinfo": "percent",
                    "textposition": "inside",
                    "hovertemplate": (
                        f"%{{label}}<br>%{{value:{_fmt(r[4] for r in table)}}} (%{{percent}})"
                        "<extra></extra>"
                    ),
                }
            ],
            "layout": _layout(
                currency,
                showlegend=True,
                legend={"orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.05},
                margin={"l": 10, "r": 10, "t": 10, "b": 10},
                uniformtext={"minsize": 10, "mode": "hide"},
            ),
        },
        columns=(
            Column("Provider"),
            Column("Model"),
            Column("Requests", "int"),
            Column("Tokens", "int"),
            Column("Spend", "money"),
            Column("Share", "percent"),
        ),
        rows=table,
    )


def by_provider(rows: Iterable[Mapping], *, currency: str) -> Chart:
    """Spend by provider; rows carry `provider` and `cost`."""
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for r in rows:
        sums[r["provider"]] += Decimal(r["cost"])
    total = sum(sums.values(), ZERO)
    ordered = sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))
    table = tuple((p, cost, share(cost, total)) for p, cost in ordered)
    fmt = _fmt(sums.values())
    return Chart(
        key="providers",
        title="Spend by provider",
        figure={
            "data": [
                {
                    "type": "bar",
                    "x": [p for p, _c, _s in table],
                    "y": [plot_number(c) for _p, c, _s in table],
                    "marker": {"color": PALETTE[0]},
                    "hovertemplate": f"%{{x}}: %{{y:{fmt}}}<extra></extra>",
                }
            ],
            "layout": _layout(currency, fmt),
        },
        columns=(Column("Provider"), Column("Spend", "money"), Column("Share", "percent")),
        rows=table,
    )


def top_services(rows: Iterable[Mapping], *, currency: str, limit: int = TOP_SERVICES) -> Chart:
    """The services (and workflows) with most spend; rows carry `service`, `requests`, `cost`."""
    sums: dict[str, list] = {}
    for r in rows:
        acc = sums.setdefault(r["service"] or NO_SERVICE, [0, ZERO])
        acc[0] += r["requests"]
        acc[1] += Decimal(r["cost"])
    total = sum((a[1] for a in sums.values()), ZERO)
    ordered = sorted(sums.items(), key=lambda kv: (-kv[1][1], kv[0]))[:limit]
    table = tuple((s, req, cost, share(cost, total)) for s, (req, cost) in ordered)
    shown = list(reversed(table))  # largest at the top of a horizontal bar chart
    fmt = _fmt(row[2] for row in table)
    return Chart(
        key="services",
        title="Top services and workflows",
        figure={
            "data": [
                {
                    "type": "bar",
                    "orientation": "h",
                    "y": [s for s, *_ in shown],
                    "x": [plot_number(row[2]) for row in shown],
                    "marker": {"color": PALETTE[2]},
                    "hovertemplate": f"%{{y}}: %{{x:{fmt}}}<extra></extra>",
                }
            ],
            "layout": _layout(
                currency,
                margin={"l": 160, "r": 20, "t": 10, "b": 40},
                # A third of a 1366-px page leaves the bars ~120 px: 3 ticks fit upright.
                xaxis={"title": {"text": currency}, "tickformat": fmt, "nticks": 3},
                yaxis={"automargin": True},
            ),
        },
        columns=(
            Column("Service"),
            Column("Requests", "int"),
            Column("Spend", "money"),
            Column("Share", "percent"),
        ),
        rows=table,
    )


def error_spend(rows: Iterable[Mapping], *, days: Sequence[dt.date], currency: str) -> Chart:
    """Spend on failed and retried requests per day; rows carry `day`, `errors`, `error_cost`."""
    errors: dict[dt.date, int] = defaultdict(int)
    costs: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    for r in rows:
        errors[r["day"]] += r["errors"]
        costs[r["day"]] += Decimal(r["error_cost"])
    fmt = _fmt(costs.values())
    table = (
        tuple((d, errors[d], costs[d]) for d in days)
        if any(costs.values()) or any(errors.values())
        else ()
    )
    return Chart(
        key="errors",
        title="Error and retry spend",
        figure={
            "data": [
                {
                    "type": "bar",
                    "name": "Failed requests' cost",
                    "x": [d.isoformat() for d in days],
                    "y": [plot_number(costs[d]) for d in days],
                    "marker": {"color": "#b42318"},
                    "hovertemplate": f"%{{x}}: %{{y:{fmt}}}<extra></extra>",
                }
            ],
            "layout": _layout(currency, fmt, xaxis={"type": "date"}),
        },
        columns=(Column("Day", "date"), Column("Failed requests", "int"), Column("Cost", "money")),
        rows=table,
    )


def cheaper_mix(savings: Sequence, *, currency: str) -> Chart:
    """Actual spend per model next to the cost at the provider's cheapest model
    (`savings.Saving` rows, see `savings.py` for the method)."""
    table = tuple(
        (
            s.provider,
            s.model,
            s.requests,
            s.tokens,
            s.actual,
            s.cheapest_model,
            s.cheapest_cost,
            s.saving,
        )
        for s in savings
    )
    labels = [f"{s.provider}/{s.model}" for s in savings]
    return Chart(
        key="cheaper",
        title="A cheaper model mix",
        figure={
            "data": [
                {
                    "type": "bar",
                    "name": "Actual",
                    "x": labels,
                    "y": [plot_number(s.actual) for s in savings],
                },
                {
                    "type": "bar",
                    "name": "At the cheapest model",
                    "x": labels,
                    "y": [plot_number(s.cheapest_cost) for s in savings],
                },
            ],
            "layout": _layout(
                currency,
                _fmt(v for s in savings for v in (s.actual, s.cheapest_cost)),
                barmode="group",
            ),
        },
        columns=(
            Column("Provider"),
            Column("Model"),
            Column("Requests", "int"),
            Column("Tokens", "int"),
            Column("Actual spend", "money"),
            Column("Cheapest model"),
            Column("Cost at cheapest", "money"),
            Column("Saving", "money"),
        ),
        rows=table,
    )
