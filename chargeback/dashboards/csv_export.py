"""CSV downloads of the dashboards' tables, formula-injection safe (defusedcsv).

Two forms of each table: for people (the default), amounts rounded to the currency with a
currency column, shares as percentages and a total row; for machines (`?format=exact`), every
value exact and plain, as the table holds it."""

from __future__ import annotations

from decimal import Decimal

from chargeback import numbers
from chargeback.dashboards.charts import Chart

FORMATS = ("rounded", "exact")


def people_rows(table: Chart, currency: str) -> list[list[str]]:
    """The table for a spreadsheet read by people: amounts rounded to `currency` (a sub-cent
    amount keeps two significant digits), a Currency column when there are amounts, shares
    as "12.3%", and a Total row summing the amounts and counts."""
    kinds = [c.kind for c in table.columns]
    has_money = "money" in kinds
    head = [c.label for c in table.columns] + (["Currency"] if has_money else [])
    out = [head]
    for row in table.rows:
        out.append([_cell(v, k, currency) for v, k in zip(row, kinds, strict=True)])
        if has_money:
            out[-1].append(currency)
    if table.rows:
        total = ["Total"]
        for i, column in enumerate(table.columns[1:], start=1):
            if column.kind in ("money", "int") and column.total:
                total.append(
                    _cell(sum((r[i] or 0 for r in table.rows), Decimal(0)), column.kind, currency)
                )
            else:
                total.append("")
        out.append(total + ([currency] if has_money else []))
    return out


def _cell(value: object, kind: str, currency: str) -> str:
    if value is None:
        return ""
    if kind == "money":
        return numbers.plain_money(value, currency)
    if kind == "percent":
        return numbers.share(value)
    if kind == "int":
        return str(int(value)) if value == int(value) else numbers.plain_money(value, currency)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
