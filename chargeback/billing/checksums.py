"""A statement's checksum: SHA-256 of its content (never of its status or PDF), written when
the draft is and shown, verified, on the statement page."""

from __future__ import annotations

import hashlib
import json
from decimal import ROUND_HALF_EVEN, Context, Decimal

from chargeback.billing.models import Statement, StatementLine


def storable(value: Decimal | None, places: int) -> Decimal | None:
    """The value as the database will give it back, so the checksum survives a round trip:
    at most `places` decimal places and 15 significant digits (SQLite keeps 15)."""
    if value is None:
        return None
    quantized = value.quantize(Decimal(1).scaleb(-places), context=Context(prec=60))
    return Context(prec=15, rounding=ROUND_HALF_EVEN).plus(quantized)


def checksum(statement: Statement, lines: list[StatementLine]) -> str:
    """SHA-256 of the statement's content (not of its status or PDF): number, unit, period,
    mode, currency, total and every line."""
    content = {
        "number": statement.number,
        "unit": statement.unit_code or statement.unit.code,
        "period": statement.period.label,
        "mode": statement.mode,
        "currency": statement.currency,
        "total": _plain(statement.total),
        "lines": [
            [
                line.position,
                line.kind,
                line.description,
                _plain(line.quantity),
                _plain(line.unit_price),
                _plain(line.amount),
                line.ref,
                line.month,
            ]
            for line in lines
        ],
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _plain(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return format(Decimal(value).normalize(), "f")


def verify(statement: Statement) -> bool:
    """Whether the stored content still matches the statement's checksum."""
    return checksum(statement, list(statement.lines.order_by("position"))) == statement.checksum
