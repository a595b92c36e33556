"""The dashboards' reads. Everything but the event list reads the DailyUsage rollup, in a fixed
number of grouped queries whatever the number of units, models or days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db.models import Min, Q, QuerySet, Sum
from django.utils import timezone

from chargeback.dashboards.periods import Window
from chargeback.pricing.models import ModelPrice
from chargeback.pricing.prices import Rates
from chargeback.tenancy.models import Organization
from chargeback.units.attribution import CENTRAL
from chargeback.units.models import BusinessUnit
from chargeback.units.tree import descendants
from chargeback.usage.models import DailyUsage, UsageEvent

DIMENSIONS = ("provider", "model", "service", "environment")
ZERO = Decimal(0)


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

    def apply(self, qs: QuerySet) -> QuerySet:
        """The dimension filters (the unit filter is part of the page's unit ids)."""
        return qs.filter(**{d: getattr(self, d) for d in DIMENSIONS if getattr(self, d)})


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


def _sums(within: Q, prior: Q) -> dict:
    """Aggregates named `<field>_sum` (an annotation may not shadow the field it sums)."""
    return {
        "requests_sum": Sum("requests", filter=within, default=0),
        "errors_sum": Sum("errors", filter=within, default=0),
        "input_tokens_sum": Sum("input_tokens", filter=within, default=0),
        "output_tokens_sum": Sum("output_tokens", filter=within, default=0),
        "cached_input_tokens_sum": Sum("cached_input_tokens", filter=within, default=0),
        "cost_sum": Sum("cost", filter=within, default=ZERO),
        "error_cost_sum": Sum("error_cost", filter=within, default=ZERO),
        "central_cost_sum": Sum("cost", filter=within & Q(attribution=CENTRAL), default=ZERO),
        "prior_cost_sum": Sum("cost", filter=prior, default=ZERO),
    }


def _plain(rows) -> list[dict]:  # noqa: ANN001
    return [{k.removesuffix("_sum"): v for k, v in r.items()} for r in rows]


def dimension_sums(organization: Organization, *, unit_ids, filters, window: Window) -> list[dict]:
    """One row per (unit, service, provider, model) with the window's sums and the prior
    window's `prior_cost`: the material of the headline, the unit table and three charts."""
    current = Q(day__gte=window.first, day__lte=window.last)
    prior = Q(day__gte=window.prior_first, day__lte=window.prior_last)
    qs = usage(
        organization,
        unit_ids=unit_ids,
        filters=filters,
        first=min(window.first, window.prior_first),
        last=max(window.last, window.prior_last),
    ).filter(current | prior)
    return _plain(
        qs.values("unit_id", "service", "provider", "model").annotate(**_sums(current, prior))
    )


def daily_sums(organization: Organization, *, unit_ids, filters, window: Window) -> list[dict]:
    """One row per (day, unit) of the window: cost, errors and error cost."""
    qs = usage(
        organization, unit_ids=unit_ids, filters=filters, first=window.first, last=window.last
    )
    return _plain(
        qs.values("day", "unit_id").annotate(
            cost_sum=Sum("cost"), errors_sum=Sum("errors"), error_cost_sum=Sum("error_cost")
        )
    )


def daily_totals(
    organization: Organization, *, unit_ids, filters, first: dt.date, last: dt.date
) -> tuple[dict[dt.date, Decimal], dt.date | None]:
    """Spend per day (for the forecast), and the first day with usage in the range."""
    qs = usage(organization, unit_ids=unit_ids, filters=filters, first=first, last=last)
    sums = qs.values("day").annotate(cost_sum=Sum("cost"))
    totals = {r["day"]: Decimal(r["cost_sum"]) for r in sums}
    return totals, min(totals, default=None)


def filter_options(organization: Organization, *, unit_ids, window: Window) -> dict[str, list]:
    """The values the dimension filters offer: those present in the window, within reach."""
    qs = usage(
        organization, unit_ids=unit_ids, filters=Filters(), first=window.first, last=window.last
    )
    seen: dict[str, set[str]] = {d: set() for d in DIMENSIONS}
    for row in qs.values_list(*DIMENSIONS).distinct():
        for d, value in zip(DIMENSIONS, row, strict=True):
            if value:
                seen[d].add(value)
    return {d: sorted(v) for d, v in seen.items()}


def has_usage(organization: Organization, *, unit_ids) -> dt.date | None:
    """The first day any usage was recorded within reach, or None."""
    qs = DailyUsage.objects.filter(organization=organization)
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=sorted(unit_ids))
    return qs.aggregate(first=Min("day"))["first"]


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
