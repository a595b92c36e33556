"""A reconciliation as plain data: the JSON of the `reconcile` command (DESIGN 6.3), its table,
and the rows of the page's CSV downloads."""

from __future__ import annotations

from decimal import Decimal

from chargeback.calendar import Period
from chargeback.reconciliation.engine import Reconciliation, Row

CAUSE_LABELS = {
    "cached_pricing": "Cached tokens priced differently",
    "batch_pricing": "Batch pricing applied after the fact",
    "discounts": "Invoice-time discounts",
    "partial_usage": "Partial-usage errors",
    "alias_lag": "Alias lag (unpriced models in quarantine)",
    "ingestion_gaps": "Ingestion gaps",
    "late_events": "Late events (after the statements were issued)",
    "currency_rounding": "Currency rounding",
}
TABLES = {
    "provider": ("by_provider", "Provider"),
    "family": ("by_family", "Provider / model family"),
    "token_class": ("by_token_class", "Token class"),
    "day": ("by_day", "Day"),
}


def _s(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def reconciliation_json(result: Reconciliation, period: Period) -> dict:
    return {
        "period": period.label,
        "currency": result.currency,
        "metered": _s(result.metered),
        "allocated": _s(result.allocated),
        "billed": _s(result.billed),
        "variance": _s(result.variance),
        "variance_pct": _s(result.variance_pct),
        "causes": [{"cause": c.cause, "amount": _s(c.amount)} for c in result.causes],
        "unexplained": _s(result.unexplained),
        "unexplained_pct": _s(result.unexplained_pct),
        "by_provider": [
            {
                "provider": row.label,
                "metered": _s(row.metered),
                "billed": _s(row.billed),
                "variance": _s(row.variance),
            }
            for row in result.by_provider
        ],
    }


def reconciliation_table(result: Reconciliation, period: Period) -> str:
    pct = "n/a" if result.variance_pct is None else f"{result.variance_pct}%"
    out = [
        f"{period.label} ({result.currency})",
        f"metered    {result.metered:>16}",
        f"allocated  {_s(result.allocated) or '-':>16}",
        f"billed     {result.billed:>16}",
        f"variance   {result.variance:>16}  {pct}",
        "causes:",
    ]
    out += [f"  {c.cause:<20}{c.amount:>16}" for c in result.causes]
    out.append(f"  {'unexplained':<20}{result.unexplained:>16}")
    out.append("by provider:")
    out += [
        f"  {r.label:<20}{r.metered:>16}{r.billed:>16}{r.variance:>16}" for r in result.by_provider
    ]
    return "\n".join(out)


def table_rows(rows: tuple[Row, ...], heading: str) -> list[list[str]]:
    """A breakdown table as CSV rows (header first)."""
    out = [[heading, "metered", "billed", "variance", "variance_pct"]]
    out += [
        [r.label, _s(r.metered), _s(r.billed), _s(r.variance), _s(r.variance_pct) or ""]
        for r in rows
    ]
    return out


def cause_rows(result: Reconciliation) -> list[list[str]]:
    out = [["cause", "detail", "amount"]]
    for cause in result.causes:
        out.append([cause.cause, "", _s(cause.amount)])
        out += [[cause.cause, label, _s(amount)] for label, amount in cause.detail]
    out.append(["unexplained", "", _s(result.unexplained)])
    return out
