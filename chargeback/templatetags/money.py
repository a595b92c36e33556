from decimal import Decimal

from django import template

from chargeback.money import MoneyError, format_money

register = template.Library()


@register.filter(name="money")
def money(amount: Decimal | None, currency: str | None) -> str:
    """`{{ amount|money:org.currency }}`. Refuses floats and a missing currency."""
    if not currency:
        raise MoneyError("the money filter needs a currency: {{ amount|money:org.currency }}")
    if amount is None or amount == "":
        return "—"
    return format_money(amount, currency)
