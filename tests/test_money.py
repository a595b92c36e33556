from decimal import Decimal

import pytest
from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from chargeback.money import MoneyError, distribute, minor_units, quantize


def test_quantize_uses_minor_unit():
    assert quantize(Decimal("1.005"), "USD") == Decimal("1.01")
    assert quantize(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert quantize(Decimal("0.0005"), "BHD") == Decimal("0.001")
    assert minor_units("JPY") == 0


def test_float_and_unknown_currency_refused():
    with pytest.raises(MoneyError, match="float"):
        quantize(1.5, "USD")
    with pytest.raises(MoneyError, match='unknown currency "XXQ"'):
        quantize(Decimal(1), "XXQ")


def test_distribute_worked_example():
    parts = distribute(Decimal("100.00"), {"a": 1, "b": 1, "c": 1}, "USD")
    assert parts == {"a": Decimal("33.34"), "b": Decimal("33.33"), "c": Decimal("33.33")}


def test_distribute_ties_do_not_depend_on_order():
    one = distribute(Decimal("0.02"), {"x": 1, "y": 1, "z": 1}, "USD")
    two = distribute(Decimal("0.02"), {"z": 1, "y": 1, "x": 1}, "USD")
    assert one == two == {"x": Decimal("0.01"), "y": Decimal("0.01"), "z": Decimal("0.00")}


def test_distribute_zero_weights_and_negative_total():
    assert distribute(Decimal("10"), {"a": 0, "b": 0}, "USD") == {
        "a": Decimal("5.00"),
        "b": Decimal("5.00"),
    }
    assert distribute(Decimal("-1.00"), {"a": 1, "b": 2}, "USD") == {
        "a": Decimal("-0.33"),
        "b": Decimal("-0.67"),
    }


weights = st.dictionaries(
    st.text(min_size=1, max_size=4),
    st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=30,
)


@given(total=st.decimals(min_value=-(10**9), max_value=10**9, places=2), weights=weights)
def test_distribute_sums_exactly_usd(total, weights):
    parts = distribute(total, weights, "USD")
    assert sum(parts.values(), Decimal(0)) == quantize(total, "USD")
    assert set(parts) == set(weights)
    if total >= 0:
        assert all(p >= 0 for p in parts.values())


@given(total=st.integers(min_value=0, max_value=10**12), weights=weights)
def test_distribute_sums_exactly_zero_decimal_currency(total, weights):
    parts = distribute(Decimal(total), weights, "JPY")
    assert sum(parts.values(), Decimal(0)) == Decimal(total)
    assert all(p == p.to_integral_value() for p in parts.values())


@given(total=st.decimals(min_value=0, max_value=10**6, places=3), weights=weights)
def test_distribute_sums_exactly_three_decimal_currency(total, weights):
    parts = distribute(total, weights, "BHD")
    assert sum(parts.values(), Decimal(0)) == quantize(total, "BHD")


def test_money_filter_needs_currency_and_formats():
    tpl = Template("{% load money %}{{ amount|money:cur }}")
    assert tpl.render(Context({"amount": Decimal("1234567.891"), "cur": "USD"})) == "$1,234,567.89"
    assert tpl.render(Context({"amount": Decimal("1234"), "cur": "JPY"})) == "¥1,234"
    with pytest.raises(MoneyError, match="needs a currency"):
        tpl.render(Context({"amount": Decimal("1"), "cur": ""}))
    with pytest.raises(MoneyError, match="float"):
        tpl.render(Context({"amount": 1.5, "cur": "USD"}))


@given(
    amount=st.decimals(
        min_value=-(10**12), max_value=10**12, places=4, allow_nan=False, allow_infinity=False
    ),
    currency=st.sampled_from(["USD", "EUR", "JPY", "BHD", "GBP", "CHF", "INR", "SEK"]),
)
def test_fast_money_format_equals_babel(amount, currency):
    from babel.numbers import format_currency
    from hypothesis import assume

    from chargeback.money import format_money

    value = quantize(amount, currency)
    assume(value != 0)  # zero is checked below: ours never prints babel's "-$0.00"
    expected = format_currency(value, currency, locale="en_US", decimal_quantization=False)
    assert format_money(amount, currency) == expected


def test_zero_and_negative_zero_format_plainly():
    from chargeback.money import format_money

    assert format_money(Decimal("-0.0001"), "USD") == "$0.00"
    assert format_money(Decimal("0"), "JPY") == "¥0"
    assert format_money(Decimal("-1234.5"), "USD") == "-$1,234.50"
