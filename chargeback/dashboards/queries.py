"""The dashboards' reads. Everything but the event list reads the rollups (DailyUsage, and for
whole months MonthlyUsage, for the daily series DailyUnitUsage), grouped in the database per
dimension, so a page reads a few hundred rows and runs a fixed number of queries whatever the
number of units, services, models or days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.utils import timezone

from chargeback.dashboards.month_sums import (
    GROUPINGS,
    MONEY_FIELDS,
    SUM_FIELDS,
    answered,
    merge,
    month_sums,
    month_values,
    plan,
    split,
)
from chargeback.dashboards.periods import Window
from chargeback.pricing.models import ModelPrice
from chargeback.pricing.prices import Rates
from chargeback.tenancy.models import Organization
from chargeback.units.attribution import CENTRAL
from chargeback.units.models import BusinessUnit
from chargeback.units.tree import descendants
from chargeback.usage.models import DailyUnitUsage, DailyUsage, UsageEvent

DIMENSIONS = ("provider", "model", "service", "environment")
ZERO = Decimal(0)
MONEY = frozenset(MONEY_FIELDS)


@dataclass(frozen=True)
class Filters:
    unit: int | None = None  # a unit: it and its descendants
    provider: str = ""
    model: str = ""
    service: str = ""
    environment: str = ""

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Filters:
        unit = (params.get("unit") or "").strip()
        return cls(
            unit=int(unit) if unit.isdigit() else None,
            **{d: (params.get(d) or "").strip()[:200] for d in DIMENSIONS},
        )

    @property
    def active(self) -> bool:
        return any(v for v in asdict(self).values())

    @property
    def dimensional(self) -> bool:
        """A dimension filter is set (the unit filter is not one)."""
        return bool(self.match)

    @property
    def match(self) -> dict[str, str]:
        """The dimension filters set: field -> value."""
        return {d: getattr(self, d) for d in DIMENSIONS if getattr(self, d)}

    def apply(self, qs: QuerySet) -> QuerySet:
        """The dimension filters (the unit filter is part of the page's unit ids)."""
        return qs.filter(**self.match)


@dataclass(frozen=True)
class UnitInfo:
    id: int
    parent_id: int | None
    code: str
    name: str
    billing_mode: str
    is_central: bool
    archived: bool


def load_units(organization: Organization) -> dict[int, UnitInfo]:
    rows = BusinessUnit.objects.filter(organization=organization).values_list(
        "id", "parent_id", "code", "name", "billing_mode", "is_central", "archived"
    )
    return {r[0]: UnitInfo(*r) for r in rows}


def page_unit_ids(
    units: Mapping[int, UnitInfo],
    *,
    reach: set[int] | None,
    root: int | None = None,
    filter_unit: int | None = None,
) -> set[int] | None:
    """The units a page reads: the membership's reach, narrowed to `root`'s subtree (the unit
    page) and to the unit filter's subtree. None means every unit of the organisation."""
    parents = {u.id: u.parent_id for u in units.values()}
    ids = reach
    for top in (root, filter_unit):
        if top is None:
            continue
        subtree = descendants(parents, [top])
        ids = subtree if ids is None else ids & subtree
    return ids


def usage(
    organization: Organization,
    *,
    unit_ids: set[int] | None,
    filters: Filters,
    first: dt.date,
    last: dt.date,
) -> QuerySet[DailyUsage]:
    qs = DailyUsage.objects.filter(organization=organization, day__gte=first, day__lte=last)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=sorted(unit_ids))
    return filters.apply(qs).order_by()


KEYS = ("unit_id", "service", "provider", "model", "environment")


@dataclass(frozen=True)
class Breakdown:
    """The window's sums (and the prior window's cost) per unit, per service, per provider and
    model, and per environment. Each row is a dict of its grouping's keys plus `rows` (rollup
    rows read in the window: non-zero where the group has usage there), the SUM_FIELDS and
    MONEY_FIELDS, `central_cost` (what fell back to the
    central bucket) and `prior_cost`."""

    units: list[dict]
    services: list[dict]
    models: list[dict]
    environments: list[dict] | None  # None: not read (see filter_options)

    @staticmethod
    def current(rows: list[dict]) -> list[dict]:
        """The rows with requests or spend in the window (not only in the prior one)."""
        return [r for r in rows if r["requests"] or r["cost"]]


def _sums(within: Q, prior: Q, *, signed: bool = False) -> dict:
    """Aggregates named `<field>_sum` (an annotation may not shadow the field it sums). With
    `signed`, `within` and `prior` are ignored: each row counts in the window times its
    `now` annotation and in the prior window times its `before` one (1, -1 or 0)."""
    if signed:
        within, prior = ~Q(now=0), ~Q(before=0)

    def total(f: str, sign: str, **extra) -> Sum:
        if not signed:
            return Sum(f, **extra)
        field = DecimalField(max_digits=24, decimal_places=12) if f in MONEY else BigIntegerField()
        return Sum(F(f) * F(sign), output_field=field, **extra)

    sums: dict = {"rows_sum": Count("id", filter=within)}
    sums.update({f"{f}_sum": total(f, "now", filter=within, default=0) for f in SUM_FIELDS})
    sums.update({f"{f}_sum": total(f, "now", filter=within, default=ZERO) for f in MONEY_FIELDS})
    sums["central_cost_sum"] = total(
        "cost", "now", filter=within & Q(attribution=CENTRAL), default=ZERO
    )
    sums["prior_cost_sum"] = total("cost", "before", filter=prior, default=ZERO)
    return sums


def _plain(rows) -> list[dict]:
    return [{k.removesuffix("_sum"): v for k, v in r.items()} for r in rows]


def breakdown(
    organization: Organization,
    *,
    unit_ids,
    filters,
    window: Window,
    grouping_sets: bool | None = None,
    monthly: bool = True,
    today: dt.date | None = None,
) -> Breakdown:
    """Spend per dimension, grouped in the database: a few hundred rows whatever the number of
    days, units, services or models. Each window is read as `month_sums.plan` says: whole
    months from the MonthlyUsage rollup, the other days from DailyUsage (or a partly covered
    month whole, less its other days: `today` says which days are still to come). With a
    filter on one dimension the months give the units and that dimension
    (`month_sums.answered`) and the other groupings are read by day; with filters on two
    dimensions, or `monthly=False`, every day is read from DailyUsage. With a dimension filter
    the environments are left to `filter_options` (None) unless the months give them.

    DailyUsage is grouped in one GROUPING SETS query on PostgreSQL; elsewhere (SQLite) one
    grouped query per unit, service and model (and environment when months are read too),
    with the same result (the environments are otherwise left to `filter_options`).
    `grouping_sets` forces one way (None: when PostgreSQL)."""
    if grouping_sets is None:
        grouping_sets = connection.vendor == "postgresql"
    read = {"unit_ids": unit_ids, "filters": filters, "grouping_sets": grouping_sets}
    every_day = {"current": [(window.first, window.last)],
                 "prior": [(window.prior_first, window.prior_last)]}  # fmt: skip
    now = plan(window.first, window.last, today)
    before = plan(window.prior_first, window.prior_last, today)
    from_months = answered(filters.match)
    if not monthly or not from_months or not (now.months or before.months):
        groupings = [n for n in GROUPINGS if grouping_sets or n != "environments"]
        return _daily_breakdown(organization, groupings=groupings, **every_day, **read)
    daily = _daily_breakdown(
        organization,
        current=now.add,
        prior=before.add,
        less_current=now.subtract,
        less_prior=before.subtract,
        groupings=from_months,
        **read,
    )
    months = {"months": now.months, "prior_months": before.months}
    whole = month_sums(organization, unit_ids=unit_ids, match=filters.match, **months)
    merged = merge([asdict(daily), whole], subtracted=bool(now.subtract or before.subtract))
    rest = [n for n in ("services", "models") if n not in from_months]
    if rest:  # what no monthly row holds under the filter: every day of DailyUsage
        by_day = _daily_breakdown(organization, groupings=rest, **every_day, **read)
        merged |= {n: getattr(by_day, n) for n in rest}
    if "environments" not in from_months:
        merged["environments"] = None
    return Breakdown(**merged)


def _days(ranges: list[tuple[dt.date, dt.date]]) -> Q:
    if not ranges:
        return Q(day__isnull=True)  # no day: the column is never null
    days = Q()
    for first, last in ranges:
        days |= Q(day__gte=first, day__lte=last)
    return days


def _daily_breakdown(
    organization: Organization,
    *,
    unit_ids,
    filters,
    current: list[tuple[dt.date, dt.date]],
    prior: list[tuple[dt.date, dt.date]],
    grouping_sets: bool,
    groupings: Sequence[str],
    less_current: list[tuple[dt.date, dt.date]] = (),
    less_prior: list[tuple[dt.date, dt.date]] = (),
) -> Breakdown:
    """DailyUsage grouped per dimension (the `groupings`, of GROUPINGS; the others are left
    empty, the environments None) over the `current` days, with the cost of the `prior` days
    beside it, less the `less_current` and `less_prior` days (in one query)."""
    signed = bool(less_current or less_prior)
    ranges = [*current, *prior, *less_current, *less_prior]
    if not ranges:
        return _unread(groupings)
    within, before = _days(current), _days(prior)
    qs = usage(
        organization,
        unit_ids=unit_ids,
        filters=filters,
        first=min(f for f, _ in ranges),
        last=max(last for _, last in ranges),
    ).filter(_days(ranges))
    if signed:  # a day may count in the window and, negative, in the other
        qs = qs.annotate(
            now=_sign(within, _days(less_current)), before=_sign(before, _days(less_prior))
        )
    if grouping_sets:
        return _grouping_sets(qs, within, signed=signed, groupings=groupings)
    rows = {
        name: _plain(qs.values(*GROUPINGS[name]).annotate(**_sums(within, before, signed=signed)))
        for name in groupings
    }
    return Breakdown(**asdict(_unread(groupings)) | rows)


def _unread(groupings: Sequence[str]) -> Breakdown:
    """No rows for the `groupings`; the others not read (empty, the environments None)."""
    unread = {} if "environments" in groupings else {"environments": None}
    return Breakdown(**{name: [] for name in GROUPINGS} | unread)


def _sign(plus: Q, minus: Q) -> Case:
    return Case(
        When(plus, then=Value(1)),
        When(minus, then=Value(-1)),
        default=Value(0),
        output_field=IntegerField(),
    )


def _grouping_sets(
    qs: QuerySet, current: Q, *, groupings: Sequence[str], signed: bool = False
) -> Breakdown:
    """PostgreSQL: the `groupings` in one scan of the rollup. The rows to read (tenant, reach,
    filters, both windows) and the flags come from the ORM; only the grouping is written
    here, from constant names. With `signed` each row counts in the window times its `now`
    annotation and in the prior window times its `before` one."""
    flags = ("now", "before") if signed else ("in_window",)
    base = qs.annotate(
        in_window=ExpressionWrapper(current, output_field=BooleanField()),
        fallback=ExpressionWrapper(Q(attribution=CENTRAL), output_field=BooleanField()),
    ).values(*KEYS, *SUM_FIELDS, *MONEY_FIELDS, "fallback", *flags)
    try:
        base_sql, params = base.query.sql_with_params()
    except EmptyResultSet:  # no unit in reach: nothing to read
        return _unread(groupings)
    if signed:
        cur, times, prior, prior_times = "u.now <> 0", " * u.now", "u.before <> 0", " * u.before"
    else:
        cur, times, prior, prior_times = "u.in_window", "", "NOT u.in_window", ""
    aggregates = [f"COUNT(*) FILTER (WHERE {cur})"]
    aggregates += [f"SUM(u.{f}{times}) FILTER (WHERE {cur})" for f in (*SUM_FIELDS, *MONEY_FIELDS)]
    aggregates += [
        f"SUM(u.cost{times}) FILTER (WHERE {cur} AND u.fallback)",
        f"SUM(u.cost{prior_times}) FILTER (WHERE {prior})",
    ]
    columns = [k for k in KEYS if any(k in GROUPINGS[name] for name in groupings)]
    sets = ", ".join("(" + ", ".join(f"u.{k}" for k in GROUPINGS[n]) + ")" for n in groupings)
    select = ", ".join(
        [*(f"GROUPING(u.{k})" for k in columns), *(f"u.{k}" for k in columns), *aggregates]
    )
    # constant names around the ORM's own SQL, whose values stay in `params`
    sql = f"SELECT {select} FROM ({base_sql}) u GROUP BY GROUPING SETS ({sets})"  # noqa: S608
    out = asdict(_unread(groupings))
    # a row's grouping: the one whose columns it is grouped by (GROUPING() 0)
    by_columns = {frozenset(GROUPINGS[name]): name for name in groupings}
    names = ("rows", *SUM_FIELDS, *MONEY_FIELDS, "central_cost", "prior_cost")
    n = len(columns)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            keys = dict(zip(columns, row[n : 2 * n], strict=True))
            grouped = frozenset(k for k, flag in zip(columns, row[:n], strict=True) if not flag)
            sums = dict(zip(names, row[2 * n :], strict=True))
            for f in ("rows", *SUM_FIELDS):
                sums[f] = int(sums[f] or 0)
            for f in (*MONEY_FIELDS, "central_cost", "prior_cost"):
                sums[f] = sums[f] if sums[f] is not None else ZERO
            name = by_columns[grouped]
            out[name].append({k: keys[k] for k in GROUPINGS[name]} | sums)
    return Breakdown(**out)


def daily(
    organization: Organization,
    *,
    unit_ids,
    filters,
    ranges: list[tuple[dt.date, dt.date]],
    stack: str = "unit",
    top: Sequence = (),
    by_unit: bool = True,
) -> list[dict]:
    """Rows of (day, bucket) with cost, requests, errors and error cost, for the days in any of
    `ranges`. The bucket is the stacking's unit id (stack="unit") or "provider/model" label
    (stack="model") when it is one of `top`, else None (the rest, summed): at most
    len(top) + 1 rows a day, whatever the number of units or models. Stacked by unit with no
    dimension filter, the rows are read from DailyUnitUsage (`by_unit`; the same sums)."""
    days = _days(ranges)
    first, last = min(f for f, _ in ranges), max(last for _, last in ranges)
    if by_unit and stack != "model" and not filters.dimensional:
        qs = DailyUnitUsage.objects.filter(organization=organization, day__gte=first, day__lte=last)
        if unit_ids is not None:
            qs = qs.filter(unit_id__in=sorted(unit_ids))
        qs = qs.filter(days).order_by()
    else:
        qs = usage(organization, unit_ids=unit_ids, filters=filters, first=first, last=last)
        qs = qs.filter(days)
    if stack == "model":
        whens = [When(provider=p, model=m, then=Value(f"{p}/{m}")) for p, m in top]
        bucket = Case(*whens, default=Value(None), output_field=CharField())
    else:
        whens = [When(unit_id__in=list(top), then=F("unit_id"))] if top else []
        bucket = Case(*whens, default=Value(None), output_field=IntegerField())
    return _plain(
        qs.annotate(bucket=bucket)
        .values("day", "bucket")
        .annotate(
            cost_sum=Sum("cost", default=ZERO),
            requests_sum=Sum("requests", default=0),
            errors_sum=Sum("errors", default=0),
            error_cost_sum=Sum("error_cost", default=ZERO),
        )
    )


def filter_options(
    organization: Organization,
    *,
    unit_ids,
    window: Window,
    filters: Filters | None = None,
    sums: Breakdown | None = None,
) -> dict[str, list]:
    """The values the dimension filters offer: those present in the window, within reach.
    Without a dimension filter a breakdown that read the environments holds them (no query);
    else one query: the window's whole months from MonthlyUsage, its other days from
    DailyUsage."""
    seen: dict[str, set[str]] = {d: set() for d in DIMENSIONS}
    unfiltered = filters is None or not filters.dimensional
    if sums is not None and sums.environments is not None and unfiltered:
        for group in (sums.services, sums.models, sums.environments):
            for row in group:
                if row["rows"]:
                    for d in DIMENSIONS:
                        if row.get(d):
                            seen[d].add(row[d])
        return {d: sorted(v) for d, v in seen.items()}
    months, edges = split(window.first, window.last)
    qs = month_values(organization, unit_ids=unit_ids, months=months, fields=DIMENSIONS)
    if edges:  # the days of the months the window covers in part
        span = {"first": edges[0][0], "last": edges[-1][1]}
        days = usage(organization, unit_ids=unit_ids, filters=Filters(), **span)
        qs = qs.union(days.filter(_days(edges)).values_list(*DIMENSIONS))
    for row in qs:
        for d, value in zip(DIMENSIONS, row, strict=True):
            if value:
                seen[d].add(value)
    return {d: sorted(v) for d, v in seen.items()}


def current_prices(organization: Organization, now: dt.datetime | None = None) -> dict:
    """(provider, model) -> Rates of the price in effect now (the latest effective_from)."""
    now = now or timezone.now()
    prices: dict[tuple[str, str], Rates] = {}
    rows = (
        ModelPrice.objects.filter(organization=organization, effective_from__lte=now)
        .order_by("provider", "model", "-effective_from", "-version__number")
        .values_list(
            "provider",
            "model",
            "input_per_1m",
            "output_per_1m",
            "cached_input_per_1m",
            "per_request",
        )
    )
    for provider, model, inp, out, cached, per_request in rows:
        prices.setdefault(
            (provider, model),
            Rates(input=inp, output=out, cached_input=cached, per_request=per_request),
        )
    return prices


def events(
    organization: Organization, *, unit_ids, filters: Filters, first: dt.date, last: dt.date
) -> QuerySet[UsageEvent]:
    """The raw events behind a page (its paged list only): newest first, no prompt content
    exists to show."""
    tz = organization.tz
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    qs = UsageEvent.objects.filter(
        organization=organization, occurred_at__gte=start, occurred_at__lt=end
    )
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=sorted(unit_ids))
    return (
        filters.apply(qs)
        .select_related("unit")
        .only(
            "request_id",
            "occurred_at",
            "provider",
            "model",
            "input_tokens",
            "output_tokens",
            "cost",
            "status_code",
            "is_error",
            "attempt",
            "service",
            "unit",
            "unit__name",
            "unit__code",
        )  # fmt: skip
        .order_by("-occurred_at", "-id")
    )
