"""How a statement line's quantity and unit price read on the pages and in the PDF.

Rate lines (tier markup, platform fee, discount) carry the money they apply to as quantity and
the rate as unit price: they read as "$240.03" and "20%". Usage lines carry tokens (or
requests) and the exact cost of one: per 1M tokens, or per request, at six significant digits.
"""

from __future__ import annotations

from decimal import Decimal

from chargeback.money import format_money

RATE_KINDS = frozenset({"markup", "platform_fee", "discount"})
MONEY_BASE_KINDS = RATE_KINDS | {"allowance"}  # their quantity is an amount of money
PER_MILLION_FROM = 1000  # a usage line with at least this many units is priced per 1M


def quantity_text(
    kind: str, quantity: Decimal | None, unit_price: Decimal | None, currency: str
) -> str:
    if quantity is None:
        return ""
    if kind in MONEY_BASE_KINDS:
        return format_money(quantity, currency)
    if quantity == quantity.to_integral_value():
        return f"{int(quantity):,}"
    return f"{quantity.quantize(Decimal('0.0001')).normalize():,f}"


def unit_price_text(kind: str, quantity: Decimal | None, unit_price: Decimal | None) -> str:
    if unit_price is None:
        return ""
    if kind in RATE_KINDS:
        return f"{_significant(unit_price * 100, 6)}%"
    if kind == "usage" and quantity is not None and quantity >= PER_MILLION_FROM:
        return f"{_significant(unit_price * 1_000_000, 6)} per 1M"
    return _significant(unit_price, 6)


def _significant(value: Decimal, digits: int) -> str:
    """At most `digits` significant digits, plain notation, no trailing zeros."""
    if not value:
        return "0"
    exponent = value.adjusted() - digits + 1
    rounded = value.quantize(Decimal(1).scaleb(min(exponent, 0))).normalize()
    return f"{rounded:,f}"
