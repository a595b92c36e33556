"""Usage beside what is charged for it: per month and unit, the statement lines (or the open
month's preview lines) summed by kind, so the difference between usage and the charge reads as
markup + fees + pools + activity - discounts - allowances + adjustments.

Pure: plain rows in, frozen dataclasses out, Decimal throughout. The reads are in
`dashboards/charge_reads.py`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from chargeback.money import quantize

ZERO = Decimal(0)
# every statement line kind, in the order the explanation lists them, with its label
KIND_LABELS = {
    "usage": "Usage",
    "markup": "Tier markup",
    "platform_fee": "Platform fees",
    "pool": "Shared costs (pools)",
    "activity": "Activity rates",
    "discount": "Discounts",
    "allowance": "Allowances",
    "confidence": "Low-confidence spend",
    "true_up": "True-ups",
    "adjustment": "Adjustments",
    "credit": "Credits",
}
BASES = {
    "issued": "Issued statements",
    "final": "Final statements",
    "preview": "Preview (not issued)",
}


@dataclass(frozen=True)
class LineSum:
    """A statement line's amount (or a sum of them) for one unit and month."""

    month: str  # YYYY-MM
    unit_id: int
    kind: str
    amount: Decimal


@dataclass(frozen=True)
class Charge:
    """Usage and charge of one unit (or of all units shown) for one month."""

    usage: Decimal
    charged: Decimal
    parts: tuple[tuple[str, Decimal], ...]  # (kind, amount) besides usage, non-zero, in order

    @property
    def difference(self) -> Decimal:
        return self.charged - self.usage

    @property
    def explained(self) -> list[tuple[str, Decimal]]:
        """(label, amount) of each part of the difference."""
        return [(KIND_LABELS.get(kind, kind), amount) for kind, amount in self.parts]


@dataclass(frozen=True)
class UnitCharge:
    unit_id: int
    name: str
    statement_id: int | None  # the statement the charge is read from (None: preview)
    charge: Charge


@dataclass(frozen=True)
class MonthCharge:
    month: str  # YYYY-MM
    basis: str  # a key of BASES
    total: Charge
    units: tuple[UnitCharge, ...]

    @property
    def basis_label(self) -> str:
        return BASES[self.basis]


def charge(amounts: Iterable[tuple[str, Decimal]], currency: str) -> Charge:
    """Sum (kind, amount) pairs: usage is the usage lines, charged all lines, and each other
    kind a part of the difference, each rounded to the currency's minor unit."""
    by_kind: dict[str, Decimal] = defaultdict(Decimal)
    for kind, amount in amounts:
        by_kind[kind] += Decimal(amount)
    rounded = {kind: quantize(amount, currency) for kind, amount in by_kind.items()}
    order = list(KIND_LABELS) + sorted(set(rounded) - set(KIND_LABELS))
    parts = tuple((k, rounded[k]) for k in order if k != "usage" and rounded.get(k))
    usage = rounded.get("usage", quantize(ZERO, currency))
    return Charge(usage=usage, charged=usage + sum((a for _, a in parts), ZERO), parts=parts)


def months(
    lines: Iterable[LineSum],
    *,
    bases: dict[str, str],
    names: dict[int, str],
    statements: dict[tuple[str, int], int],
    currency: str,
) -> list[MonthCharge]:
    """Per month in `bases` (month -> basis) with lines, newest first: the total over the
    units and each unit's own, units by name. `statements` maps (month, unit id) to a statement id."""
    grouped: dict[str, dict[int, list[tuple[str, Decimal]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for line in lines:
        if line.month in bases:
            grouped[line.month][line.unit_id].append((line.kind, line.amount))
    out = []
    for month in sorted(bases, reverse=True):
        units = grouped.get(month)
        if not units:
            continue
        rows = [
            UnitCharge(
                unit_id=uid,
                name=names.get(uid, str(uid)),
                statement_id=statements.get((month, uid)),
                charge=charge(amounts, currency),
            )
            for uid, amounts in units.items()
        ]
        rows.sort(key=lambda r: (r.name.lower(), r.unit_id))
        every = [pair for amounts in units.values() for pair in amounts]
        out.append(
            MonthCharge(
                month=month, basis=bases[month], total=charge(every, currency), units=tuple(rows)
            )
        )
    return out
