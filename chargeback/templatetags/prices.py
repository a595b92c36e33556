from decimal import Decimal

from django import template

from chargeback.pricing.books import cell

register = template.Library()


@register.filter(name="price_cell")
def price_cell(value: Decimal | None) -> str:
    """`{{ price.input_per_1m|price_cell }}`: plain notation, no trailing zeros, "" for none."""
    return cell(value)
