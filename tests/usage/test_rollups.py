"""The coarser rollups (MonthlyUsage per month and dimension, DailyUnitUsage per day and unit)
hold exactly the sums of the DailyUsage rows, as ingestion writes them (across a month end, with
usage that fell back to the central bucket, and when a later batch adds to rows already stored)
and as the migration backfills them from rows stored before they existed."""

import importlib
from collections import defaultdict
from decimal import Decimal

from django.apps import apps
from django.db.models import Sum

from chargeback.tenancy.scoping import within
from chargeback.usage.models import DailyUnitUsage, DailyUsage, MonthlyUsage
from chargeback.usage.rollup import ROLLUP_SUMS as SUMS
from tests.usage.conftest import event, ingest

ZERO = Decimal(0)
DIMENSION_COLUMNS = {
    "unit": (),
    "service": ("service",),
    "model": ("provider", "model"),
    "environment": ("environment",),
}


def expected_months(org) -> dict[tuple, dict]:
    """MonthlyUsage's rows as they follow from the DailyUsage rows, summed here in Python: per
    unit, and for the whole organisation (unit None) per service, model and environment."""
    out: dict[tuple, dict] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for row in DailyUsage.objects.filter(organization=org).values():
        for dimension, columns in DIMENSION_COLUMNS.items():
            names = [
                row[c] if c in columns else ""
                for c in ("service", "provider", "model", "environment")
            ]
            for unit in (row["unit_id"],) if dimension == "unit" else (row["unit_id"], None):
                acc = out[(row["day"].replace(day=1), unit, dimension, *names)]
                for f in SUMS:
                    acc[f] += row[f]
                acc["central_cost"] += row["cost"] if row["attribution"] == "central" else ZERO
    return {k: dict(v) for k, v in out.items()}  # fmt: skip


def stored_months(org) -> dict[tuple, dict]:
    return {
        (r["month"], r["unit_id"], r["dimension"], r["service"], r["provider"], r["model"],
         r["environment"]): {f: r[f] for f in (*SUMS, "central_cost")}
        for r in MonthlyUsage.objects.filter(organization=org).values()
    }  # fmt: skip


def expected_unit_days(org) -> dict[tuple, dict]:
    rows = (
        DailyUsage.objects.filter(organization=org)
        .values("day", "unit_id")
        .annotate(**{f"{f}_sum": Sum(f) for f in ("requests", "errors", "cost", "error_cost")})
        .order_by()
    )
    return {
        (r["day"], r["unit_id"]): {f: r[f"{f}_sum"] for f in ("requests", "errors", "cost", "error_cost")}
        for r in rows
    }  # fmt: skip


def stored_unit_days(org) -> dict[tuple, dict]:
    return {
        (r["day"], r["unit_id"]): {f: r[f] for f in ("requests", "errors", "cost", "error_cost")}
        for r in DailyUnitUsage.objects.filter(organization=org).values()
    }


def traffic(prefix: str) -> list[dict]:
    """Events over the end of October, for several units, services, models and environments,
    some unattributed (central)."""
    days = ("2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02")
    events = []
    for i in range(24):
        overrides = {
            "occurred_at": f"{days[i % 4]}T{(7 * i) % 24:02d}:30:00Z",
            "input_tokens": 100 + 37 * i,
            "output_tokens": 20 + 11 * i,
        }
        if i % 3 == 0:
            overrides["gateway_key_id"] = "gk-sales"
        elif i % 3 == 1:
            overrides["service"] = "ticket-summarizer"
        if i % 4 == 0:
            overrides["environment"] = "staging"
        if i % 5 == 0:
            overrides["model"] = "gpt-4o"
        if i % 7 == 0:
            overrides["status_code"] = 500
        events.append(event(f"{prefix}-{i}", **overrides))
    return events


def test_ingestion_writes_the_coarser_rollups_with_the_daily_one(priced_org):
    ingest(priced_org, traffic("a"))
    ingest(priced_org, traffic("b"))  # adds to the rows the first batch stored
    with within(priced_org):
        months = stored_months(priced_org)
        assert {k[0].month for k in months} == {10, 11}
        assert any(v["central_cost"] for v in months.values())
        assert any(k[1] is None for k in months)  # the organisation's own rows
        assert months == expected_months(priced_org)
        assert stored_unit_days(priced_org) == expected_unit_days(priced_org)
        total = DailyUsage.objects.filter(organization=priced_org).aggregate(Sum("requests"))
        assert total["requests__sum"] == 48


def test_the_migration_backfills_rows_stored_before_it(priced_org):
    ingest(priced_org, traffic("a"))
    with within(priced_org):
        before_months, before_days = stored_months(priced_org), stored_unit_days(priced_org)
        MonthlyUsage.objects.filter(organization=priced_org).delete()
        DailyUnitUsage.objects.filter(organization=priced_org).delete()
        migration = importlib.import_module(
            "chargeback.usage.migrations.0009_rollups_by_month_and_by_unit_day"
        )
        migration.backfill(apps, None)
        assert stored_months(priced_org) == before_months == expected_months(priced_org)
        assert stored_unit_days(priced_org) == before_days == expected_unit_days(priced_org)
