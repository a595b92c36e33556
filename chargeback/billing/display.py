"""How a statement line's quantity and unit price read on the pages and in the PDF.

Rate lines (tier markup, platform fee, discount) carry the money they apply to as quantity and
the rate as unit price: they read as "$240.03" and "20%". Usage lines carry tokens (or
requests) and the cost of one: per 1M tokens ("3.07 per 1M"), or per request ("0.50").
The words come from `chargeback.numbers`.
"""

from __future__ import annotations

from decimal import Decimal

from chargeback import numbers

RATE_KINDS = frozenset({"markup", "platform_fee", "discount"})
MONEY_BASE_KINDS = RATE_KINDS | {"allowance"}  # their quantity is an amount of money
PER_MILLION_FROM = 1000  # a usage line with at least this many units is priced per 1M


def quantity_text(
    kind: str, quantity: Decimal | None, unit_price: Decimal | None, currency: str
) -> str:
    if quantity is None:
        return ""
    if kind in MONEY_BASE_KINDS:
        return numbers.money(quantity, currency)
    return numbers.quantity(quantity)


def unit_price_text(kind: str, quantity: Decimal | None, unit_price: Decimal | None) -> str:
    if unit_price is None:
        return ""
    if kind in RATE_KINDS:
        return numbers.percent_rate(unit_price)
    if kind == "usage" and quantity is not None and quantity >= PER_MILLION_FROM:
        return numbers.per_million(unit_price)
    return numbers.price(unit_price)
