"""The daily rollup: events aggregated into increments of `DailyUsage`, added in the chunk's
transaction with an upsert."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection

from chargeback.tenancy.models import Organization
from chargeback.usage.models import DailyUsage

if TYPE_CHECKING:
    from chargeback.usage.ingest import Priced

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
)


def rollup_rows(org: Organization, accepted: Iterable[Priced]) -> dict[tuple, list]:
    """Aggregate events into rollup increments keyed by ROLLUP_DIMS (pure)."""
    totals: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0, 0, Decimal(0), Decimal(0)])
    tz = org.tz
    for p in accepted:
        d = p.draft
        key = (
            org.pk, d.occurred_at.astimezone(tz).date(), p.unit_id, d.tags.get("service", ""),
            p.provider, p.model, d.tags.get("environment", ""), p.method,
        )  # fmt: skip
        t = totals[key]
        t[0] += 1
        t[1] += 1 if d.is_error else 0
        t[2] += d.input_tokens
        t[3] += d.output_tokens
        t[4] += d.cached_input_tokens
        t[5] += p.cost
        t[6] += p.cost if d.is_error else 0
    return totals


def add_to_rollup(org: Organization, accepted: list[Priced]) -> None:
    totals = rollup_rows(org, accepted)
    if not totals:
        return
    table = DailyUsage._meta.db_table
    columns = ROLLUP_DIMS + ROLLUP_SUMS
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in ROLLUP_SUMS)
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    items = list(totals.items())
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
