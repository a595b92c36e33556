"""Number filters for templates, all worded by `chargeback.numbers`:
`{{ amount|money:cur }}` "$1,234.50" or "< $0.01", `{{ cost|exact_money:cur }}` "$0.00036",
`{{ delta|change:cur }}` "(+$5.03)", `{{ n|count }}` "64,388", `{{ q|quantity }}` "42.19",
`{{ fraction|share }}` "12.3%", `{{ rate|percent_rate }}` "20%"."""

from decimal import Decimal

from django import template

from chargeback import numbers
from chargeback.money import MoneyError

register = template.Library()


def _currency(currency: str | None, name: str) -> str:
    if not currency:
        raise MoneyError(
            f"the {name} filter needs a currency: {{{{ amount|{name}:org.currency }}}}"
        )
    return currency


@register.filter(name="money")
def money(amount: Decimal | None, currency: str | None) -> str:
    """`{{ amount|money:org.currency }}`. Refuses floats and a missing currency."""
    currency = _currency(currency, "money")
    if amount is None or amount == "":
        return "—"
    return numbers.money(amount, currency)


@register.filter(name="exact_money")
def exact_money(amount: Decimal | None, currency: str | None) -> str:
    currency = _currency(currency, "exact_money")
    if amount is None or amount == "":
        return "—"
    return numbers.exact_money(amount, currency)


@register.filter(name="change")
def change(amount: Decimal | None, currency: str | None) -> str:
    currency = _currency(currency, "change")
    if amount is None or amount == "":
        return ""
    return numbers.change(amount, currency)


@register.filter(name="count")
def count(n: int | None) -> str:
    return numbers.count(n)


@register.filter(name="quantity")
def quantity(value: Decimal | int | None) -> str:
    return numbers.quantity(value)


@register.filter(name="share")
def share(value: Decimal | None) -> str:
    return numbers.share(value)


@register.filter(name="percent_rate")
def percent_rate(value: Decimal | None) -> str:
    return "—" if value is None else numbers.percent_rate(value)


@register.simple_tag(name="counted")
def counted(n: int, singular: str, plural: str = "") -> str:
    """`{% counted n "price" %}`: "1 price", "2 prices"."""
    return numbers.counted(int(n), singular, plural or None)


@register.simple_tag(name="agree")
def agree(n: int, singular: str, verb_one: str, verb_many: str, plural: str = "") -> str:
    """`{% agree n "price" "takes" "take" %}`: "1 price takes", "3 prices take"."""
    return numbers.agree(int(n), singular, verb_one, verb_many, plural or None)
