"""One showback page's material: the period, the filters, the headline, the forecast, the
charts and the unit table, for the organisation (overview) or one unit's subtree (unit page).

The number of queries is fixed whatever the rows: the units, the reach (team leads), the
breakdown per unit, service, model and environment (one GROUPING SETS query of the daily
rollup on PostgreSQL, and one of the monthly rollup when the window or the prior one holds
whole months; filtered by one dimension, a second of the daily rollup for the dimensions the
monthly rows do not hold under that filter), the daily series (window and forecast history
together, the chart's tail already summed in SQL), the filter options only when a dimension
filter is set (one query of both rollups), and on the unit page the current prices."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.utils import timezone

from chargeback.calendar import month_bounds
from chargeback.dashboards import charts, figures, queries, savings
from chargeback.dashboards.partial_day import mark_partial_day
from chargeback.dashboards.periods import CHOICES, Window, parse_window, recent_months
from chargeback.tenancy.models import Membership
from chargeback.units.queries import visible_unit_ids
from chargeback.units.tree import depth_first
from chargeback.usage.forecast import HISTORY_DAYS, Forecast, forecast_month

CSV_KEYS = ("daily", "models", "providers", "services", "errors", "per1k", "cheaper", "units")


class OutOfReach(LookupError):
    """The unit does not exist in the organisation or is outside the membership's reach."""


@dataclass
class Showback:
    window: Window
    filters: queries.Filters
    errors: list[str]
    today: dt.date
    units: dict[int, queries.UnitInfo]
    reach: set[int] | None  # the membership's units (None: all)
    unit_ids: set[int] | None  # the units this page reads
    headline: figures.Headline
    forecast: Forecast
    charts: list[charts.Chart]
    unit_rows: list[figures.UnitRow]
    options: dict[str, list]
    unit_options: list[tuple[int, str]]  # (id, indented name)
    period_choices: list[tuple[str, str]]
    savings: list[savings.Saving] = field(default_factory=list)
    stack: str = "unit"  # the daily chart's stacking: unit | model

    @property
    def empty(self) -> bool:
        return not self.headline.requests and not self.headline.spend and not self.headline.prior

    @property
    def dimension_filters(self) -> list[tuple[str, str, list[str], str]]:
        """(name, label, options, selected) for the filter form's dimension selects."""
        out = []
        for dim in queries.DIMENSIONS:
            selected = getattr(self.filters, dim)
            options = self.options[dim]
            if selected and selected not in options:
                options = [selected, *options]
            out.append((dim, dim.capitalize(), options, selected))
        return out

    def chart(self, key: str) -> charts.Chart | None:
        return next((c for c in self.charts if c.key == key), None)


def build(
    *,
    membership: Membership,
    params: Mapping[str, str],
    root_id: int | None = None,
    sort: str = "-spend",
    now: dt.datetime | None = None,
) -> Showback:
    org = membership.organization
    today = (now or timezone.now()).astimezone(org.tz).date()
    window, errors = parse_window(params, today)
    stack = "model" if params.get("stack") == "model" else "unit"
    filters = queries.Filters.parse(params)
    units = queries.load_units(org)
    reach = visible_unit_ids(membership)
    if root_id is not None and (
        root_id not in units or (reach is not None and root_id not in reach)
    ):
        raise OutOfReach(root_id)
    if filters.unit is not None and (
        filters.unit not in units or (reach is not None and filters.unit not in reach)
    ):
        errors.append("That unit is not one you can see; the unit filter was dropped.")
        filters = replace(filters, unit=None)
    ids = queries.page_unit_ids(units, reach=reach, root=root_id, filter_unit=filters.unit)
    read = {"unit_ids": ids, "filters": filters}
    names = {u.id: u.name for u in units.values()}
    currency = org.currency

    sums = queries.breakdown(org, window=window, today=today, **read)
    current_models = sums.current(sums.models)
    top = _top(sums, stack=stack, names=names)
    month_first, month_last = month_bounds(today)
    history_first = min(month_first, today - dt.timedelta(days=HISTORY_DAYS))
    daily = queries.daily(
        org,
        ranges=[(window.first, window.last), (history_first, month_last)],
        stack=stack,
        top=top,
        **read,
    )
    forecast = _forecast(daily, today=today, first=history_first, last=month_last)
    in_window = [r for r in daily if window.first <= r["day"] <= window.last]
    if stack == "model":
        stacked = charts.daily_by_model(
            [{**r, "model": r["bucket"]} for r in in_window], days=window.days, currency=currency
        )
    else:
        stacked = charts.daily_by_unit(
            [{**r, "unit_id": r["bucket"]} for r in in_window],
            days=window.days,
            names=names,
            currency=currency,
        )
    page_charts = [
        mark_partial_day(stacked, today),
        charts.model_mix(current_models, currency=currency),
        charts.by_provider(current_models, currency=currency),
        charts.top_services(sums.current(sums.services), currency=currency),
        mark_partial_day(charts.error_spend(in_window, days=window.days, currency=currency), today),
        mark_partial_day(charts.cost_per_1k(in_window, days=window.days, currency=currency), today),
    ]
    cheaper: list[savings.Saving] = []
    if root_id is not None:
        cheaper = savings.cheaper_mix(current_models, queries.current_prices(org))
        page_charts.append(charts.cheaper_mix(cheaper, currency=currency))
    visible = {uid: u for uid, u in units.items() if ids is None or uid in ids}
    base = queries.page_unit_ids(units, reach=reach, root=root_id)
    pickable = {uid: u for uid, u in units.items() if base is None or uid in base}
    tree = depth_first(
        {u.id: u.parent_id for u in pickable.values()},
        {u.id: u.code.lower() for u in pickable.values()},
    )
    return Showback(
        window=window,
        filters=filters,
        errors=errors,
        today=today,
        units=units,
        reach=reach,
        unit_ids=ids,
        headline=figures.headline(
            sums.units, services=sums.services, models=sums.models, names=names
        ),
        forecast=forecast,
        charts=page_charts,
        unit_rows=figures.unit_rows(sums.units, visible, sort=sort),
        options=queries.filter_options(
            org, unit_ids=ids, window=window, filters=filters, sums=sums
        ),
        unit_options=[(uid, "\u00a0\u00a0" * depth + pickable[uid].name) for uid, depth in tree],
        period_choices=CHOICES + recent_months(today),
        savings=cheaper,
        stack=stack,
    )


def _top(sums: queries.Breakdown, *, stack: str, names: dict[int, str]) -> list:
    """The units (or (provider, model) pairs) with most spend in the window: the daily chart's
    own series; the query sums the rest into one."""
    if stack == "model":
        rows = sums.current(sums.models)
        ranked = sorted(rows, key=lambda r: (-r["cost"], f"{r['provider']}/{r['model']}"))
        return [(r["provider"], r["model"]) for r in ranked[: charts.TOP_SERIES]]
    rows = sums.current(sums.units)
    ranked = sorted(rows, key=lambda r: (-r["cost"], names.get(r["unit_id"], "")))
    return [r["unit_id"] for r in ranked[: charts.TOP_SERIES]]


def _forecast(daily: list[dict], *, today: dt.date, first: dt.date, last: dt.date) -> Forecast:
    """The month's forecast from the daily rows' totals between `first` and `last`."""
    totals: dict[dt.date, Decimal] = defaultdict(lambda: Decimal(0))
    for r in daily:
        if first <= r["day"] <= last:
            totals[r["day"]] += Decimal(r["cost"])
    return forecast_month(
        totals,
        today=today,
        month_first=month_bounds(today)[0],
        month_last=last,
        first_data_day=min(totals, default=None),
    )


def unit_table_csv(rows: list[figures.UnitRow]) -> charts.Chart:
    """The business-unit table as a Chart-shaped table, for its CSV download."""
    return charts.Chart(
        key="units",
        title="Business units",
        figure={},
        columns=tuple(
            charts.Column(label, kind)
            for label, kind in (
                ("Code", "text"),
                ("Unit", "text"),
                ("Billing mode", "text"),
                ("Spend", "money"),
                ("Prior", "money"),
                ("Change", "money"),
                ("Tokens", "int"),
                ("Requests", "int"),
                ("Share", "percent"),
                ("Coverage", "percent"),
            )  # fmt: skip
        ),
        rows=tuple(
            (
                r.code,
                r.name,
                r.billing_mode,
                r.spend,
                r.prior,
                r.change,
                r.tokens,
                r.requests,
                r.share,
                r.coverage,
            )
            for r in rows
        ),
    )
