"""A showback window's whole months, read from the MonthlyUsage rollup.

`queries.breakdown` splits the window (and the prior window) into the months that lie wholly
inside it and the days left at its edges: the months are read here, a few rows per unit and
month whatever the days hold, the edge days from DailyUsage as before, and the two are added up
(`merge`). MonthlyUsage holds the same sums as DailyUsage per month, one dimension at a time,
so the figures are the same to the last digit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Case, Count, F, IntegerField, Q, Sum, Value, When

from chargeback.calendar import month_bounds
from chargeback.tenancy.models import Organization
from chargeback.usage.models import MonthlyUsage

ZERO = Decimal(0)
SUM_FIELDS = ("requests", "errors", "input_tokens", "output_tokens", "cached_input_tokens")
MONEY_FIELDS = ("cost", "error_cost")
# one grouping per dimension the page breaks spend down by; "environments" only feeds the
# environment filter's options
GROUPINGS = {
    "units": ("unit_id",),
    "services": ("service",),
    "models": ("provider", "model"),
    "environments": ("environment",),
}
DIMENSION_GROUPING = {
    MonthlyUsage.UNIT: "units",
    MonthlyUsage.SERVICE: "services",
    MonthlyUsage.MODEL: "models",
    MonthlyUsage.ENVIRONMENT: "environments",
}
ADDED = ("rows", *SUM_FIELDS, *MONEY_FIELDS, "central_cost", "prior_cost")


def split(first: dt.date, last: dt.date) -> tuple[list[dt.date], list[tuple[dt.date, dt.date]]]:
    """The months wholly inside [first, last] (their first days) and the days left over at
    either end, as inclusive ranges."""
    month = first if first.day == 1 else month_bounds(first)[1] + dt.timedelta(days=1)
    months = []
    while month_bounds(month)[1] <= last:
        months.append(month)
        month = month_bounds(month)[1] + dt.timedelta(days=1)
    if not months:
        return [], [(first, last)] if first <= last else []
    edges = []
    if first < months[0]:
        edges.append((first, months[0] - dt.timedelta(days=1)))
    end = month_bounds(months[-1])[1]
    if end < last:
        edges.append((end + dt.timedelta(days=1), last))
    return months, edges


def month_sums(
    organization: Organization,
    *,
    unit_ids: set[int] | None,
    months: list[dt.date],
    prior_months: list[dt.date],
) -> dict[str, list[dict]]:
    """Per grouping (see GROUPINGS), rows as `queries.Breakdown` holds them, summed over the
    window's whole `months` (and the prior window's, for `prior_cost`). `rows` counts the
    monthly rows read: non-zero where the group has usage in the window."""
    within, prior = Q(month__in=months), Q(month__in=prior_months)
    qs = MonthlyUsage.objects.filter(organization=organization, month__in=months + prior_months)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=sorted(unit_ids))
    sums: dict = {"rows_sum": Count("id", filter=within)}
    sums.update({f"{f}_sum": Sum(f, filter=within, default=0) for f in SUM_FIELDS})
    sums.update({f"{f}_sum": Sum(f, filter=within, default=ZERO) for f in MONEY_FIELDS})
    sums["central_cost_sum"] = Sum("central_cost", filter=within, default=ZERO)
    sums["prior_cost_sum"] = Sum("cost", filter=prior, default=ZERO)
    unit_key = Case(
        When(dimension=MonthlyUsage.UNIT, then=F("unit_id")),
        default=Value(None),
        output_field=IntegerField(),
    )
    out: dict[str, list[dict]] = {name: [] for name in GROUPINGS}
    grouped = (
        qs.annotate(unit_key=unit_key)
        .values("dimension", "unit_key", "service", "provider", "model", "environment")
        .annotate(**sums)
        .order_by()
    )
    for row in grouped:
        name = DIMENSION_GROUPING[row["dimension"]]
        keys = {k: row["unit_key" if k == "unit_id" else k] for k in GROUPINGS[name]}
        out[name].append(keys | {f: row[f"{f}_sum"] for f in ADDED})
    return out


def merge(parts: Iterable[dict[str, list[dict] | None]]) -> dict[str, list[dict]]:
    """Rows of the same group (the same keys in the same grouping) added up."""
    out: dict[str, dict[tuple, dict]] = {name: {} for name in GROUPINGS}
    for part in parts:
        for name, keys in GROUPINGS.items():
            for row in part.get(name) or ():
                key = tuple(row[k] for k in keys)
                seen = out[name].get(key)
                if seen is None:
                    out[name][key] = dict(row)
                else:
                    for f in ADDED:
                        seen[f] += row[f]
    return {name: list(rows.values()) for name, rows in out.items()}
