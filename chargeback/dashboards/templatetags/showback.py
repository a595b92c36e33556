"""Formatting for the showback pages: table cells by column kind, percentages, signed money.
Tables of many rows are formatted here in one pass rather than by a filter per cell."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from html import escape

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from chargeback import numbers
from chargeback.dashboards.charts import Chart
from chargeback.dashboards.figures import UnitRow

register = template.Library()


def cell(value: object, kind: str, currency: str) -> str:
    if value is None:
        return "—"
    if kind == "money":
        return numbers.money(value, currency)
    if kind == "int":
        return numbers.quantity(value)
    if kind == "percent":
        return pct(value)
    if kind == "date" and isinstance(value, dt.date):
        return f"{value:%a %-d %b %Y}"
    return str(value)


NUMERIC = frozenset({"money", "int", "percent"})


@register.simple_tag
def chart_table(chart: Chart, currency: str) -> SafeString:
    """`{% chart_table chart org.currency %}`: a chart's table view (header and rows), built
    here in one pass: a 90-day chart has ~1,000 cells, too many for a template loop per cell."""
    kinds = [c.kind for c in chart.columns]
    attrs = [' class="num"' if k in NUMERIC else "" for k in kinds]
    head = "".join(
        f'<th scope="col"{a}>{escape(c.label)}</th>'
        for c, a in zip(chart.columns, attrs, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{a}>{escape(cell(v, k, currency))}</td>"
            for v, k, a in zip(row, kinds, attrs, strict=True)
        )
        + "</tr>"
        for row in chart.rows
    )
    return mark_safe(  # noqa: S308 (every value above is escaped)
        f'<table class="table compact"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


@register.simple_tag
def unit_table_rows(rows: list[UnitRow], org_slug: str, query: str, currency: str) -> SafeString:
    """`{% unit_table_rows board.unit_rows org.slug unit_qs org.currency %}`: the business-unit
    table's rows, each unit's name linking to its spend page with the page's `query`."""
    out = []
    for r in rows:
        href = reverse("dashboards:unit-spend", kwargs={"org_slug": org_slug, "unit_id": r.unit_id})
        change = r.change
        direction = " up" if change > 0 else (" down" if change < 0 else "")
        change_share = (
            f' <span class="muted">({signed_pct(r.change_share)})</span>' if r.prior else ""
        )
        mode = escape(r.billing_mode)
        out.append(
            f'<tr><td class="name"><a href="{escape(href + query)}">{escape(r.name)}</a> '
            f'<code class="muted">{escape(r.code)}</code></td>'
            f'<td><span class="badge mode-{mode}">{mode[:1].upper() + mode[1:]}</span></td>'
            f'<td class="num">{escape(numbers.money(r.spend, currency))}</td>'
            f'<td class="num">{pct(r.share)}</td>'
            f'<td class="num">{escape(numbers.money(r.prior, currency))}</td>'
            f'<td class="num{direction}">{escape(signed_money(change, currency))}{change_share}</td>'
            f'<td class="num">{thousands(r.tokens)}</td>'
            f'<td class="num">{thousands(r.requests)}</td>'
            f'<td class="num">{pct(r.coverage)}</td></tr>'
        )
    return mark_safe("\n".join(out))  # noqa: S308 (every text above is escaped)


@register.filter
def thousands(value: int | None) -> str:
    """An integer with thousands separators (1,234,567): humanize's intcomma without its
    locale machinery, for tables of many rows."""
    return numbers.count(value)


@register.filter
def pct(value: Decimal | None) -> str:
    """A share (0.1234) as "12.3%"; None as an em dash."""
    return numbers.share(value)


@register.filter
def signed_money(amount: Decimal | None, currency: str) -> str:
    """+$1,200.00 or −$300.00 (a true minus sign)."""
    return numbers.signed_money(amount, currency)


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
