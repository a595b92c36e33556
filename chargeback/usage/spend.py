"""Spend per business unit for a period, from the DailyUsage rollup (the `spend` command and
the API read this)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from chargeback.calendar import Period
from chargeback.tenancy.models import Organization
from chargeback.units.attribution import CENTRAL
from chargeback.units.models import BusinessUnit
from chargeback.usage.models import DailyUsage


def spend_report(organization: Organization, period: Period, *, include_all: bool = False) -> dict:
    rows = DailyUsage.objects.filter(
        organization=organization, day__gte=period.first, day__lte=period.last
    )
    sums = {
        "requests": Sum("requests"),
        "input_tokens": Sum("input_tokens"),
        "output_tokens": Sum("output_tokens"),
        "cost": Sum("cost"),
    }
    per_unit = {r["unit_id"]: r for r in rows.values("unit_id").annotate(**sums)}
    fallback = rows.filter(attribution=CENTRAL).aggregate(
        requests=Sum("requests"), cost=Sum("cost")
    )
    units = BusinessUnit.objects.filter(organization=organization).order_by("code")
    total_cost = sum((Decimal(r["cost"]) for r in per_unit.values()), Decimal(0))
    out_units = []
    for unit in units:
        r = per_unit.get(unit.pk)
        if r is None and not include_all:
            continue
        cost = Decimal(r["cost"]) if r else Decimal(0)
        out_units.append(
            {
                "code": unit.code,
                "name": unit.name,
                "requests": r["requests"] if r else 0,
                "input_tokens": r["input_tokens"] if r else 0,
                "output_tokens": r["output_tokens"] if r else 0,
                "cost": _plain(cost),
                "share": _plain((cost / total_cost).quantize(Decimal("0.000001")))
                if total_cost
                else "0",
            }
        )
    return {
        "organization": organization.slug,
        "period": period.label,
        "currency": organization.currency,
        "units": out_units,
        "unallocated": {
            "requests": fallback["requests"] or 0,
            "cost": _plain(Decimal(fallback["cost"] or 0)),
        },
        "total": {
            "requests": sum(r["requests"] for r in per_unit.values()),
            "input_tokens": sum(r["input_tokens"] for r in per_unit.values()),
            "output_tokens": sum(r["output_tokens"] for r in per_unit.values()),
            "cost": _plain(total_cost),
        },
    }


def _plain(value: Decimal) -> str:
    """A decimal string without exponent or needless trailing zeros: 1600, 0.00036."""
    text = format(value.normalize(), "f")
    return text
