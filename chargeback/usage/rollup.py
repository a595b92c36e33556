"""The rollups: events aggregated into increments of `DailyUsage`, of `MonthlyUsage` (the
same sums per month, one dimension at a time) and of `DailyUnitUsage` (per day and unit), added
in the chunk's transaction with upserts.

Ingestion adds events up per (local day, owner entry, names entry) (see `rows.py`), with costs
in integer units of 10^-12; `rollup_rows` turns those into rows keyed by ROLLUP_DIMS with
Decimal costs, and `write_rollup` adds them to all three tables: the one place any is written,
so the coarser tables always hold the daily rows' sums."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection

from chargeback.tenancy.models import Organization
from chargeback.units.attribution import CENTRAL
from chargeback.usage.models import DailyUnitUsage, DailyUsage, MonthlyUsage

if TYPE_CHECKING:
    from chargeback.usage.validation import Draft

ROLLUP_DIMS = (
    "organization_id",
    "day",
    "unit_id",
    "service",
    "provider",
    "model",
    "environment",
    "attribution",
)
ROLLUP_SUMS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cost",
    "error_cost",
    "cache_hit_tokens",
)
REQUESTS, ERRORS, INPUT, OUTPUT, CACHED_INPUT, COST, ERROR_COST, CACHE_HIT_TOKENS = range(
    len(ROLLUP_SUMS)
)
_HOUR = dt.timedelta(hours=1) - dt.timedelta(microseconds=1)


class LocalDays:
    """An event's day in the organisation's timezone, memoised per UTC hour: an hour whose
    start and end have the same offset and the same local date lies in that one date."""

    def __init__(self, tz: dt.tzinfo) -> None:
        self.tz = tz
        self.hours: dict[str, dt.date | None] = {}

    def __call__(self, d: Draft) -> dt.date:
        hour = d.occurred_iso[:13]  # "YYYY-MM-DDTHH" of the UTC time
        day = self.hours.get(hour, False)
        if day is False:
            if len(self.hours) > 100_000:
                self.hours.clear()
            hour_start = d.occurred_at.replace(minute=0, second=0, microsecond=0)  # UTC
            start, end = hour_start.astimezone(self.tz), (hour_start + _HOUR).astimezone(self.tz)
            same = start.utcoffset() == end.utcoffset() and start.date() == end.date()
            day = self.hours[hour] = start.date() if same else None
        return day or d.occurred_at.astimezone(self.tz).date()


def rollup_rows(org: Organization, totals: dict[tuple, list]) -> dict[tuple, list]:
    """Increments keyed by (day, rows.Owner, rows.Names), summed in the order of ROLLUP_SUMS
    with costs in units of 10^-12 -> rows keyed by ROLLUP_DIMS, with Decimal costs."""
    rows: dict[tuple, list] = {}
    for (day, owner, names), sums in totals.items():
        key = (
            org.pk, day, owner.unit_id, owner.service, names.provider, names.model,
            owner.environment, owner.method,
        )  # fmt: skip
        row = rows.get(key)
        if row is None:
            rows[key] = list(sums)
        else:
            for i, value in enumerate(sums):
                row[i] += value
    for row in rows.values():
        row[COST] = Decimal(row[COST]).scaleb(-12)
        row[ERROR_COST] = Decimal(row[ERROR_COST]).scaleb(-12)
    return rows


MONTHLY_DIMS = (
    "organization_id",
    "month",
    "unit_id",
    "dimension",
    "service",
    "provider",
    "model",
    "environment",
)
ORG_MONTHLY_DIMS = tuple(d for d in MONTHLY_DIMS if d != "unit_id")
MONTHLY_SUMS = (*ROLLUP_SUMS, "central_cost")
ZERO = Decimal(0)


def monthly_rows(rows: dict[tuple, list]) -> tuple[dict[tuple, list], dict[tuple, list]]:
    """The MonthlyUsage increments of DailyUsage increments (keyed by ROLLUP_DIMS, Decimal
    costs), in the order of MONTHLY_SUMS: per month and unit, its totals and those per service,
    per provider and model and per environment (keyed by MONTHLY_DIMS); and per month, those
    of the whole organisation per service, model and environment (keyed by ORG_MONTHLY_DIMS)."""
    units: dict[tuple, list] = {}
    org: dict[tuple, list] = {}
    for (org_id, day, unit_id, service, provider, model, env, attribution), sums in rows.items():
        central = sums[COST] if attribution == CENTRAL else ZERO
        month = day.replace(day=1)
        for tail in (
            (MonthlyUsage.UNIT, "", "", "", ""),
            (MonthlyUsage.SERVICE, service, "", "", ""),
            (MonthlyUsage.MODEL, "", provider, model, ""),
            (MonthlyUsage.ENVIRONMENT, "", "", "", env),
        ):
            keys = [((org_id, month, unit_id, *tail), units)]
            if tail[0] != MonthlyUsage.UNIT:
                keys.append(((org_id, month, *tail), org))
            for key, into in keys:
                acc = into.get(key)
                if acc is None:
                    into[key] = [*sums, central]
                else:
                    for i, value in enumerate(sums):
                        acc[i] += value
                    acc[-1] += central
    return units, org


UNIT_DAY_DIMS = ("organization_id", "day", "unit_id")
UNIT_DAY_SUMS = ("requests", "errors", "cost", "error_cost")


def unit_day_rows(rows: dict[tuple, list]) -> dict[tuple, list]:
    """The DailyUnitUsage increments of DailyUsage increments, in the order of UNIT_DAY_SUMS."""
    out: dict[tuple, list] = {}
    for (org_id, day, unit_id, *_), sums in rows.items():
        add = (sums[REQUESTS], sums[ERRORS], sums[COST], sums[ERROR_COST])
        acc = out.get((org_id, day, unit_id))
        if acc is None:
            out[(org_id, day, unit_id)] = list(add)
        else:
            for i, value in enumerate(add):
                acc[i] += value
    return out


def add_to_rollup(org: Organization, totals: dict[tuple, list]) -> None:
    write_rollup(rollup_rows(org, totals))


def write_rollup(rows: dict[tuple, list]) -> None:
    """Add increments keyed by ROLLUP_DIMS (sums in the order of ROLLUP_SUMS, Decimal costs) to
    DailyUsage, MonthlyUsage and DailyUnitUsage, in the caller's transaction."""
    if not rows:
        return
    _upsert(DailyUsage._meta.db_table, ROLLUP_DIMS, ROLLUP_SUMS, rows)
    units, org = monthly_rows(rows)
    monthly = MonthlyUsage._meta.db_table
    _upsert(monthly, MONTHLY_DIMS, MONTHLY_SUMS, units, where="unit_id IS NOT NULL")
    _upsert(monthly, ORG_MONTHLY_DIMS, MONTHLY_SUMS, org, where="unit_id IS NULL")
    _upsert(DailyUnitUsage._meta.db_table, UNIT_DAY_DIMS, UNIT_DAY_SUMS, unit_day_rows(rows))


def _upsert(
    table: str, dims: tuple, sums: tuple, rows: dict[tuple, list], *, where: str = ""
) -> None:
    """Add `rows` to `table`, on the unique constraint over `dims` (partial: `where`). On
    PostgreSQL one statement of a column array each (a query text that does not grow with the
    rows: parsing thousands of placeholders cost more than the upsert); elsewhere VALUES lists
    of 500 rows."""
    if not rows:
        return
    columns = dims + sums
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in sums)
    conflict = f"ON CONFLICT ({', '.join(dims)}){' WHERE ' + where if where else ''}"
    items = list(rows.items())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = [
                list(column) for column in zip(*(key + tuple(v) for key, v in items), strict=True)
            ]
            unnest = ", ".join(f"%s::{_pg_type(c)}[]" for c in columns)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({unnest}) "  # noqa: S608
                f"{conflict} DO UPDATE SET {updates}",
                arrays,
            )
            return
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(items), 500):
            part = items[start : start + 500]
            params: list[Any] = []
            for key, values in part:
                params.extend(key)
                params.extend(values)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([placeholders] * len(part))} "  # noqa: S608
                f"{conflict} DO UPDATE SET {updates}",
                params,
            )


def _pg_type(column: str) -> str:
    if column in ("day", "month"):
        return "date"
    if column in ("cost", "error_cost", "central_cost"):
        return "numeric"
    if column in ("service", "provider", "model", "environment", "attribution", "dimension"):
        return "text"
    return "bigint"  # ids and counts
