"""A statement as plain data: the JSON of the `statements` command and the API, and the CSV
of its lines (safe against spreadsheet formula injection)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from decimal import Decimal

from chargeback import safecsv as csv
from chargeback.billing.models import Statement, StatementLine
from chargeback.money import quantize

CSV_COLUMNS = (
    "statement",
    "period",
    "cost_center",
    "unit",
    "mode",
    "status",
    "position",
    "kind",
    "description",
    "quantity",
    "unit_price",
    "amount",
    "currency",
    "reference",
    "corrects_month",
)


def plain(value: Decimal | None) -> str | None:
    """A decimal as a plain string (no exponent), trailing zeros of the exact form kept off."""
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def amount(value: Decimal) -> str:
    """Money as a string at the currency's minor unit ("12.30")."""
    return format(value, "f")


def line_json(line: StatementLine, currency: str) -> dict:
    return {
        "position": line.position,
        "kind": line.kind,
        "description": line.description,
        "quantity": plain(line.quantity),
        "unit_price": plain(line.unit_price),
        "amount": amount(_q(line.amount, currency)),
        "ref": line.ref,
        "month": line.month or None,
    }


def statement_json(statement: Statement, lines: Iterable[StatementLine] | None = None) -> dict:
    cur = statement.currency
    lines = list(lines) if lines is not None else list(statement.lines.all())
    return {
        "id": statement.pk,
        "number": statement.number,
        "period": statement.period.label,
        "unit": statement.unit_code,
        "unit_name": statement.unit_name,
        "mode": statement.mode,
        "status": statement.status,
        "central": statement.central,
        "tier": statement.tier or None,
        "currency": cur,
        "lines": [line_json(line, cur) for line in lines],
        "total": amount(_q(statement.total, cur)),
        "usage_cost": plain(statement.usage_cost),
        "requests": statement.requests,
        "input_tokens": statement.input_tokens,
        "output_tokens": statement.output_tokens,
        "organization_cost": plain(statement.org_cost),
        "organization_unallocated": plain(statement.org_unallocated),
        "dispute_deadline": statement.dispute_deadline.isoformat()
        if statement.dispute_deadline
        else None,
        "issued_at": statement.issued_at.isoformat() if statement.issued_at else None,
        "checksum": statement.checksum,
        "evidence": statement.evidence,
    }


def _q(value: Decimal, currency: str) -> Decimal:
    return quantize(value, currency)


def lines_csv(statements: Iterable[Statement]) -> str:
    """One row per line of each statement, for an ERP load."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for statement in statements:
        cur = statement.currency
        for line in statement.lines.all():
            writer.writerow(
                [
                    statement.number,
                    statement.period.label,
                    statement.unit_code,
                    statement.unit_name,
                    statement.mode,
                    statement.status,
                    line.position,
                    line.kind,
                    line.description,
                    plain(line.quantity) or "",
                    plain(line.unit_price) or "",
                    amount(_q(line.amount, cur)),
                    cur,
                    line.ref,
                    line.month,
                ]
            )
    return out.getvalue()


def credit_notes_json(statement: Statement) -> dict:
    """The statement's credit notes and what it owes after them (the `statements` command)."""
    cur = statement.currency
    notes = list(statement.credit_notes.order_by("number"))
    credited = sum((n.amount for n in notes), Decimal(0))
    return {
        "credit_notes": [
            {
                "number": n.number,
                "amount": amount(_q(n.amount, cur)),
                "reason": n.reason,
                "ref": n.ref,
                "created_at": n.created_at.isoformat(),
            }
            for n in notes
        ],
        "total_after_credit_notes": amount(_q(statement.total - credited, cur)),
    }
