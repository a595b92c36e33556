"""The daily rollup: events aggregated into increments of `DailyUsage`, added in the chunk's
transaction with an upsert.

Ingestion adds events up per (local day, owner entry, names entry) (see `rows.py`), with costs
in integer units of 10^-12; `rollup_rows` turns those into rows keyed by ROLLUP_DIMS with
Decimal costs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection

from chargeback.tenancy.models import Organization
from chargeback.usage.models import DailyUsage

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


def add_to_rollup(org: Organization, totals: dict[tuple, list]) -> None:
    rows = rollup_rows(org, totals)
    if not rows:
        return
    table = DailyUsage._meta.db_table
    columns = ROLLUP_DIMS + ROLLUP_SUMS
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in ROLLUP_SUMS)
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    items = list(rows.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), 500):
            part = items[start : start + 500]
            params: list[Any] = []
            for key, sums in part:
                params.extend(key)
                params.extend(sums)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([placeholders] * len(part))} "  # noqa: S608
                f"ON CONFLICT ({', '.join(ROLLUP_DIMS)}) DO UPDATE SET {updates}",
                params,
            )
