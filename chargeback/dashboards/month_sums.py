"""A showback window's whole months, read from the MonthlyUsage rollup.

`queries.breakdown` plans each window (the window and the prior one, see `plan`): the months
wholly inside it are read here (a few rows per unit and month whatever the days hold, or for a
page that sees every unit the organisation's own rows per service, model and environment); a
month the window only partly covers is read from DailyUsage for its days in the window, or,
when its other days are fewer (the days after today hold nothing), here as a whole less those
other days, read from DailyUsage and counted negative. The parts are added up (`merge`).
Under a filter on one dimension (a service, a provider and/or model, an environment) the
rows of the filtered value give the units and that dimension (`answered`); the filter options
of a window are read here for its whole months too (`month_values`).
MonthlyUsage holds the same sums as DailyUsage per month, one dimension at a time, and the
arithmetic is exact (Decimal), so the figures are the same to the last digit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When

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
# the filter fields each dimension's rows hold (the other fields blank)
DIMENSION_FIELDS = {
    dim: GROUPINGS[name] for dim, name in DIMENSION_GROUPING.items() if dim != MonthlyUsage.UNIT
}
ADDED = ("rows", *SUM_FIELDS, *MONEY_FIELDS, "central_cost", "prior_cost")
DAY = dt.timedelta(days=1)
# what reading a month of MonthlyUsage costs, in days of DailyUsage (a month's rows are a
# few per unit, summed once rather than once per dimension)
MONTH_READ_DAYS = 3
Ranges = list[tuple[dt.date, dt.date]]


def split(first: dt.date, last: dt.date) -> tuple[list[dt.date], Ranges]:
    """The months wholly inside [first, last] (their first days) and the days left over, as
    inclusive ranges within one month each."""
    months: list[dt.date] = []
    edges: Ranges = []
    day = first
    while day <= last:
        month_first, month_last = month_bounds(day)
        end = min(month_last, last)
        if day == month_first and end == month_last:
            months.append(month_first)
        else:
            edges.append((day, end))
        day = end + DAY
    return months, edges


@dataclass
class Plan:
    """How one window is read: `months` of MonthlyUsage, plus the days `add` of DailyUsage,
    less the days `subtract` of DailyUsage (the other days of a month read whole)."""

    months: list[dt.date] = field(default_factory=list)
    add: Ranges = field(default_factory=list)
    subtract: Ranges = field(default_factory=list)


def plan(first: dt.date, last: dt.date, today: dt.date | None = None) -> Plan:
    """The cheapest reading of [first, last]: whole months from MonthlyUsage; a month's part
    from DailyUsage, or, knowing `today`, its whole month less its other days when those cost
    fewer days of DailyUsage to read (days after today hold no rows and cost nothing)."""
    months, edges = split(first, last)
    out = Plan(months=months)
    for start, end in edges:
        month_first, month_last = month_bounds(start)
        others = [
            (a, b) for a, b in ((month_first, start - DAY), (end + DAY, month_last)) if a <= b
        ]
        if today is not None and _days_to_read(others, today) + MONTH_READ_DAYS < _days_to_read(
            [(start, end)], today
        ):
            out.months.append(month_first)
            out.subtract.extend(others)
        else:
            out.add.append((start, end))
    return out


def _days_to_read(ranges: Ranges, today: dt.date) -> int:
    return sum(max((min(b, today) - a).days + 1, 0) for a, b in ranges)


def answering(match: Mapping[str, str]) -> str | None:
    """The dimension whose monthly rows hold the totals under the dimension filters `match`
    (field -> value, the filters set): a service, a provider and/or model, or an environment.
    None for none, or for filters on two dimensions (no monthly row holds both: read by day)."""
    fields = set(match)
    return next(
        (dim for dim, keys in DIMENSION_FIELDS.items() if fields and fields <= set(keys)), None
    )


def answered(match: Mapping[str, str]) -> tuple[str, ...]:
    """The groupings `month_sums` reads under the dimension filters `match` (see `answering`):
    every one without a filter; under one, the units and the filtered dimension's own."""
    if not match:
        return tuple(GROUPINGS)
    dimension = answering(match)
    return ("units", DIMENSION_GROUPING[dimension]) if dimension else ()


def month_sums(
    organization: Organization,
    *,
    unit_ids: set[int] | None,
    months: list[dt.date],
    prior_months: list[dt.date],
    match: Mapping[str, str] | None = None,
) -> dict[str, list[dict]]:
    """Per grouping (see GROUPINGS), rows as `queries.Breakdown` holds them, summed over the
    window's whole `months` (and the prior window's, for `prior_cost`). `rows` counts the
    monthly rows read: non-zero where the group has usage in the window. Under the dimension
    filters `match` (one dimension's, see `answering`) only the groupings `answered` says:
    from the rows of the filtered values, per unit and per value. A group may come in more
    than one row (`merge` adds them up)."""
    within, prior = Q(month__in=months), Q(month__in=prior_months)
    qs = MonthlyUsage.objects.filter(organization=organization, month__in=months + prior_months)
    dimension = answering(match) if match else None
    if dimension is not None:  # the filtered values' rows, per unit (and the organisation's)
        qs = qs.filter(dimension=dimension, **match)
        if unit_ids is not None:
            qs = qs.filter(unit_id__in=sorted(unit_ids))
    elif unit_ids is None:  # per unit, and the organisation's own rows for the other dimensions
        qs = qs.filter(Q(dimension=MonthlyUsage.UNIT, unit__isnull=False) | Q(unit__isnull=True))
    else:
        qs = qs.filter(unit_id__in=sorted(unit_ids))
    sums: dict = {"rows_sum": Count("id", filter=within)}
    sums.update({f"{f}_sum": Sum(f, filter=within, default=0) for f in SUM_FIELDS})
    sums.update({f"{f}_sum": Sum(f, filter=within, default=ZERO) for f in MONEY_FIELDS})
    sums["central_cost_sum"] = Sum("central_cost", filter=within, default=ZERO)
    sums["prior_cost_sum"] = Sum("cost", filter=prior, default=ZERO)
    unit_key = F("unit_id") if dimension is not None else Case(
        When(dimension=MonthlyUsage.UNIT, then=F("unit_id")),
        default=Value(None),
        output_field=IntegerField(),
    )  # fmt: skip
    out: dict[str, list[dict]] = {name: [] for name in GROUPINGS}
    grouped = (
        qs.annotate(unit_key=unit_key)
        .values("dimension", "unit_key", "service", "provider", "model", "environment")
        .annotate(**sums)
        .order_by()
    )
    for row in grouped:
        if dimension is None:
            names = [DIMENSION_GROUPING[row["dimension"]]]
        else:  # a unit's row counts for its unit; the page's own rows for the filtered value
            names = ["units"] if row["unit_key"] is not None else []
            if (row["unit_key"] is None) == (unit_ids is None):
                names.append(DIMENSION_GROUPING[dimension])
        for name in names:
            keys = {k: row["unit_key" if k == "unit_id" else k] for k in GROUPINGS[name]}
            out[name].append(keys | {f: row[f"{f}_sum"] for f in ADDED})
    return out


def merge(
    parts: Iterable[dict[str, list[dict] | None]], *, subtracted: bool
) -> dict[str, list[dict]]:
    """Rows of the same group (the same keys in the same grouping) added up. When days were
    `subtracted` (counted negative), `rows` says only whether the group has usage in the
    window (1 or 0), and a group left with nothing in either window is dropped."""
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
    if not subtracted:
        return {name: list(rows.values()) for name, rows in out.items()}
    current = (*SUM_FIELDS, *MONEY_FIELDS)
    kept: dict[str, list[dict]] = {name: [] for name in GROUPINGS}
    for name, rows in out.items():
        for row in rows.values():
            row["rows"] = int(any(row[f] for f in current))
            if row["rows"] or row["prior_cost"]:
                kept[name].append(row)
    return kept


def month_values(
    organization: Organization,
    *,
    unit_ids: set[int] | None,
    months: list[dt.date],
    fields: Sequence[str],
) -> QuerySet:
    """The `fields` (of the dimension filters) of the monthly rows of `months` within reach:
    the services, models and environments with usage there (each dimension's rows leave the
    other fields blank), as distinct tuples."""
    qs = MonthlyUsage.objects.filter(organization=organization, month__in=months).exclude(
        dimension=MonthlyUsage.UNIT
    )
    if unit_ids is None:  # the organisation's own rows
        qs = qs.filter(unit__isnull=True)
    else:
        qs = qs.filter(unit_id__in=sorted(unit_ids))
    return qs.values_list(*fields).distinct().order_by()
