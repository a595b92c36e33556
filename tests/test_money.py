import math
from decimal import Decimal

import pytest
from babel.numbers import format_currency
from django.template import Context, Template
from hypothesis import assume, given
from hypothesis import strategies as st

from chargeback.money import (
    MoneyError,
    distribute,
    format_money,
    largest_remainder,
    minor_units,
    quantize,
)


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


@given(
    total=st.decimals(min_value=-(10**9), max_value=10**9, places=2),
    weights=weights,
    data=st.data(),
)
def test_distribute_does_not_depend_on_the_mappings_order(total, weights, data):
    shuffled = data.draw(st.permutations(list(weights.items())))
    assert distribute(total, dict(shuffled), "USD") == distribute(total, weights, "USD")


@given(total=st.decimals(min_value=0, max_value=10**9, places=2), weights=weights)
def test_distribute_parts_are_within_a_minor_unit_of_the_exact_share(total, weights):
    parts = distribute(total, weights, "USD")
    weight_sum = sum(weights.values(), Decimal(0))
    for key, part in parts.items():
        exact = total * weights[key] / weight_sum if weight_sum else total / len(weights)
        assert abs(part - exact) < Decimal("0.01")


def test_largest_remainder_ties_go_to_the_key_that_sorts_first():
    # Integer keys sort by value (10 after 2), strings as strings, whatever the mapping's order.
    exact = {10: Decimal("0.5"), 2: Decimal("0.5"), 1: Decimal("1")}
    assert largest_remainder(exact, 2) == {10: 0, 2: 1, 1: 1}
    assert largest_remainder({"b": Decimal("0.5"), "a": Decimal("0.5")}, 1) == {"a": 1, "b": 0}
    with pytest.raises(MoneyError, match="cannot round 2 values to a total of 3"):
        largest_remainder({"a": Decimal("0.5"), "b": Decimal("0.5")}, 3)


@given(
    values=st.lists(
        st.decimals(min_value=-(10**6), max_value=10**6, places=4), min_size=1, max_size=30
    ),
    up=st.booleans(),
    data=st.data(),
)
def test_largest_remainder_sums_to_the_target_and_keeps_each_part_close(values, up, data):
    exact = dict(enumerate(values))
    total = sum(values, Decimal(0))
    target = int(total.to_integral_value(rounding="ROUND_CEILING" if up else "ROUND_FLOOR"))
    parts = largest_remainder(exact, target)
    assert sum(parts.values()) == target
    assert all(parts[k] - math.floor(v) in (0, 1) for k, v in exact.items())
    shuffled = dict(data.draw(st.permutations(list(exact.items()))))
    assert largest_remainder(shuffled, target) == parts


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
    value = quantize(amount, currency)
    assume(value != 0)  # zero is checked below: ours never prints babel's "-$0.00"
    expected = format_currency(value, currency, locale="en_US", decimal_quantization=False)
    assert format_money(amount, currency) == expected


def test_zero_and_negative_zero_format_plainly():
    assert format_money(Decimal("-0.0001"), "USD") == "$0.00"
    assert format_money(Decimal("0"), "JPY") == "¥0"
    assert format_money(Decimal("-1234.5"), "USD") == "-$1,234.50"
