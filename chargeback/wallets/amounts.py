"""Reading an amount for a wallet: Decimal, at most the currency's minor unit, with the field's
name in every error."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from chargeback.money import minor_units


def read_amount(value: object, currency: str, *, field: str = "amount") -> Decimal:
    """An exact amount in `currency`: a float, a non-number or more decimals than the currency
    has is a ValidationError naming `field`."""
    if isinstance(value, float):
        raise ValidationError({field: "must be a decimal number, not a float"})
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({field: f'"{value}" is not a number'}) from None
    if not amount.is_finite():
        raise ValidationError({field: f'"{value}" is not a number'})
    places = minor_units(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_CEILING):
        raise ValidationError({field: f"{currency} amounts have at most {places} decimal places"})
    if abs(amount) >= Decimal(10) ** 15:
        raise ValidationError({field: "is too large"})
    return amount.quantize(Decimal(1).scaleb(-places))


def round_up(value: Decimal, currency: str) -> Decimal:
    """A cost estimate rounded up to the currency's minor unit (a hold never falls short)."""
    return value.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_CEILING)
