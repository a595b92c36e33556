"""Formatting for the showback pages: table cells by column kind, percentages, signed money."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma

from chargeback.dashboards.charts import Chart
from chargeback.money import format_money

register = template.Library()


def cell(value: object, kind: str, currency: str) -> str:
    if kind == "money":
        return format_money(value, currency)
    if kind == "int":
        return intcomma(value)
    if kind == "percent":
        return pct(value)
    if kind == "date" and isinstance(value, dt.date):
        return f"{value:%a %-d %b %Y}"
    return str(value)


@register.simple_tag
def chart_rows(chart: Chart, currency: str) -> list[list[tuple[str, bool]]]:
    """`{% chart_rows chart org.currency as rows %}`: each cell as (text, is a number)."""
    kinds = [c.kind for c in chart.columns]
    numeric = [k in ("money", "int", "percent") for k in kinds]
    return [
        [(cell(v, k, currency), n) for v, k, n in zip(row, kinds, numeric, strict=True)]
        for row in chart.rows
    ]


@register.filter
def pct(value: Decimal | None) -> str:
    """A share (0.1234) as "12.3%"; None as an em dash."""
    if value is None:
        return "—"
    return f"{Decimal(value) * 100:,.1f}%"


@register.filter
def signed_money(amount: Decimal | None, currency: str) -> str:
    """+$1,200.00 or −$300.00 (a true minus sign)."""
    if amount is None:
        return "—"
    sign = "+" if amount > 0 else ("−" if amount < 0 else "")
    return sign + format_money(abs(amount), currency)


@register.filter
def signed_pct(value: Decimal | None) -> str:
    if value is None:
        return "—"
    sign = "+" if value > 0 else ("−" if value < 0 else "")
    return sign + pct(abs(value))


@register.simple_tag
def next_sort(key: str, current: str) -> str:
    """The `sort` value a column header links to: toggles the direction of the current column;
    a new column starts descending (names ascending)."""
    first = key if key == "name" else f"-{key}"
    if current == first:
        return first.lstrip("-") if first.startswith("-") else f"-{first}"
    return first


@register.simple_tag
def sort_mark(key: str, current: str) -> str:
    if current.lstrip("-") != key:
        return ""
    return " ▼" if current.startswith("-") else " ▲"
