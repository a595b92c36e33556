"""Money: Decimal only. Quantise to a currency's minor unit; split totals so parts sum exactly."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import TypeVar

from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_currency_symbol,
    list_currencies,
)

K = TypeVar("K", bound=Hashable)
KNOWN_CURRENCIES: frozenset[str] = frozenset(
    c for c in list_currencies() if len(c) == 3 and c.isalpha() and c.isupper()
)


class MoneyError(ValueError):
    """Raised for a float, an unknown currency or an impossible split."""


def check_currency(currency: str) -> str:
    if currency not in KNOWN_CURRENCIES:
        raise MoneyError(f'unknown currency "{currency}" (expected an ISO 4217 code such as USD)')
    return currency


@lru_cache(maxsize=512)
def minor_units(currency: str) -> int:
    """Decimal places of the currency's minor unit: USD 2, JPY 0, BHD 3."""
    return get_currency_precision(check_currency(currency))


def _exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def _as_decimal(amount: object) -> Decimal:
    if isinstance(amount, float):
        raise MoneyError("money must be Decimal, not float")
    if isinstance(amount, Decimal):
        return amount
    if isinstance(amount, int | str):
        return Decimal(amount)
    raise MoneyError(f"cannot use {type(amount).__name__} as money")


def quantize(amount: Decimal | int | str, currency: str) -> Decimal:
    """Round half up to the currency's minor unit."""
    return _as_decimal(amount).quantize(_exponent(currency), rounding=ROUND_HALF_UP)


def distribute(
    total: Decimal, weights: Mapping[K, Decimal | int], currency: str
) -> dict[K, Decimal]:
    """Split `total` over `weights` in the currency's minor unit; the parts sum exactly to it.

    Largest remainder (`largest_remainder`): every part gets its floored share, then the
    leftover minor units go one each to the largest remainders, ties to the key that sorts
    first, so the result does not depend on the mapping's order. Zero weights get zero.
    All-zero weights split evenly. Negative totals are split as the negation of the positive
    split.
    """
    total = quantize(total, currency)
    if not weights:
        if total:
            raise MoneyError("cannot distribute a non-zero total over no weights")
        return {}
    clean = {k: _as_decimal(w) for k, w in weights.items()}
    if any(w < 0 for w in clean.values()):
        raise MoneyError("weights must not be negative")
    if total < 0:
        return {k: -v for k, v in distribute(-total, clean, currency).items()}
    weight_sum = sum(clean.values(), Decimal(0))
    if weight_sum == 0:
        clean = {k: Decimal(1) for k in clean}
        weight_sum = Decimal(len(clean))
    step = _exponent(currency)
    units_total = int(total / step)
    shares = {k: Decimal(units_total) * w / weight_sum for k, w in clean.items()}
    parts = largest_remainder(shares, units_total)
    return {key: Decimal(parts[key]) * step for key in clean}


def largest_remainder(exact: Mapping[K, Decimal], target: int) -> dict[K, int]:
    """Whole numbers, one per key, that sum to `target`: each exact value floored, then the
    leftover units one each to the largest remainders, ties to the key that sorts first (by
    type name, then value for ints and strings, else str()), so the result does not depend
    on the mapping's order. Every part is its exact value's floor or one more. The one
    rounding rule of `distribute` and of the allocation engine's statement lines.

    `target` must lie between the sum of the floors and that sum plus the number of values
    (the exact values' sum rounded either way always does); MoneyError otherwise."""
    floors = {k: int(v.to_integral_value(rounding=ROUND_FLOOR)) for k, v in exact.items()}
    leftover = target - sum(floors.values())
    if not 0 <= leftover <= len(floors):
        raise MoneyError(f"cannot round {len(floors)} values to a total of {target}")
    order = sorted(exact, key=lambda k: (floors[k] - exact[k], _sort_key(k)))
    for key in order[:leftover]:
        floors[key] += 1
    return floors


def _sort_key(key: Hashable) -> tuple[str, int | str]:
    return (type(key).__name__, key if isinstance(key, int | str) else str(key))


def format_money(amount: Decimal, currency: str, *, locale: str = "en_US") -> str:
    """`$1,234.50`: the currency's symbol, thousands separators and minor unit.

    For the en_US locale this uses a cached symbol and Python's own grouping (babel's
    formatter costs ~150 µs a call, and a dashboard formats hundreds of amounts); the result
    equals babel's, which a test checks."""
    value = quantize(_as_decimal(amount), currency)
    if locale != "en_US":
        return format_currency(value, currency, locale=locale, decimal_quantization=False)
    symbol = _symbol(currency)
    text = f"{abs(value):,.{minor_units(currency)}f}"
    return f"-{symbol}{text}" if value < 0 else f"{symbol}{text}"


@lru_cache(maxsize=512)
def _symbol(currency: str) -> str:
    return get_currency_symbol(currency, locale="en_US")


def plot_number(value: Decimal) -> float:
    """The one place a Decimal becomes a float: a chart coordinate to draw, rounded to 1e-6.
    Amounts that are stored, summed, compared or printed never pass through here."""
    return float(round(value, 6))
