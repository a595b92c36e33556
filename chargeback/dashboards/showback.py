"""One showback page's material: the period, the filters, the headline, the forecast, the
charts and the unit table, for the organisation (overview) or one unit's subtree (unit page).

The number of queries is fixed: units, reach, dimension sums, daily sums, the forecast's daily
totals, the filter options (and the current prices on the unit page), whatever the rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from django.utils import timezone

from chargeback.dashboards import charts, figures, queries, savings
from chargeback.dashboards.forecast import HISTORY_DAYS, Forecast, forecast_month
from chargeback.dashboards.periods import CHOICES, Window, month_bounds, parse_window, recent_months
from chargeback.tenancy.models import Membership
from chargeback.units.queries import visible_unit_ids
from chargeback.units.tree import depth_first

CSV_KEYS = ("daily", "models", "providers", "services", "errors", "cheaper", "units")


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

    dims = queries.dimension_sums(org, window=window, **read)
    current = [r for r in dims if r["requests"] or r["cost"]]
    daily = queries.daily_sums(org, window=window, **read)
    month_first, month_last = month_bounds(today)
    totals, first_day = queries.daily_totals(
        org,
        first=min(month_first, today - dt.timedelta(days=HISTORY_DAYS)),
        last=month_last,
        **read,
    )
    forecast = forecast_month(
        totals,
        today=today,
        month_first=month_first,
        month_last=month_last,
        first_data_day=first_day,
    )
    names = {u.id: u.name for u in units.values()}
    currency = org.currency
    page_charts = [
        charts.daily_by_unit(daily, days=window.days, names=names, currency=currency),
        charts.model_mix(current, currency=currency),
        charts.by_provider(current, currency=currency),
        charts.top_services(current, currency=currency),
        charts.error_spend(daily, days=window.days, currency=currency),
    ]
    cheaper: list[savings.Saving] = []
    if root_id is not None:
        cheaper = savings.cheaper_mix(current, queries.current_prices(org))
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
        headline=figures.headline(dims, names),
        forecast=forecast,
        charts=page_charts,
        unit_rows=figures.unit_rows(dims, visible, sort=sort),
        options=queries.filter_options(org, unit_ids=ids, window=window),
        unit_options=[(uid, "\u00a0\u00a0" * depth + pickable[uid].name) for uid, depth in tree],
        period_choices=CHOICES + recent_months(today),
        savings=cheaper,
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
