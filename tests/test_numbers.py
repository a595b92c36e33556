"""How numbers read (issue 18, item 7): money, exact costs, changes, prices, quantities, counts."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.template import Context, Template

from chargeback import numbers
from chargeback.money import MoneyError


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (D("1234.5"), "USD", "$1,234.50"),
        (D("1205.58"), "USD", "$1,205.58"),
        (D("0.00036"), "USD", "< $0.01"),  # never "$0.00" for an amount that is not zero
        (D("-0.004"), "USD", "> −$0.01"),
        (D("0"), "USD", "$0.00"),
        (D("0.005"), "USD", "$0.01"),
        (D("-5.76"), "USD", "-$5.76"),
        (D("1234567"), "JPY", "¥1,234,567"),
        (D("0.4"), "JPY", "< ¥1"),
    ],
)
def test_money_rounds_to_the_currency_and_never_shows_zero_for_a_sub_cent_amount(
    amount, currency, shown
):
    assert numbers.money(amount, currency) == shown


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (D("0.00036"), "$0.00036"),
        (D("0.000001234"), "$0.000001234"),
        (D("0.1234567"), "$0.123457"),
        (D("1.25"), "$1.25"),
        (D("0"), "$0.00"),
        (D("12345.678"), "$12,345.68"),
    ],
)
def test_an_exact_cost_has_enough_digits_to_show_it(amount, shown):
    assert numbers.exact_money(amount, "USD") == shown


def test_changes_carry_their_sign():
    assert numbers.change(D("5.03"), "USD") == "(+$5.03)"
    assert numbers.change(D("-2"), "USD") == "(−$2.00)"
    assert numbers.change(D("0.001"), "USD") == "(no change)"
    assert numbers.signed_money(D("1200"), "USD") == "+$1,200.00"
    assert numbers.signed_money(D("-0.001"), "USD") == "−< $0.01"


def test_prices_read_as_price_books_print_them():
    assert numbers.prices(D("0.8"), D("4"), D("0.08")) == "0.80 / 4.00 / 0.08"
    assert numbers.prices(D("0.075"), None, D("1250")) == "0.075 / — / 1,250.00"
    assert numbers.price(D("3.000000")) == "3.00"
    assert numbers.price(None) == ""


def test_an_average_price_per_million_reads_to_the_cent():
    assert numbers.per_million(D("0.00000440438")) == "4.40 per 1M"  # not "4.40438 per 1M"
    assert numbers.per_million(D("0.000003")) == "3.00 per 1M"
    assert numbers.per_million(D("0.000000075")) == "0.0750 per 1M"


def test_quantities_and_counts_have_separators():
    assert numbers.quantity(D("42.1901")) == "42.19"  # not "42.1901"
    assert numbers.quantity(D("64388")) == "64,388"
    assert numbers.count(64388) == "64,388"  # not "64388"
    assert numbers.count(None) == "—"
    assert numbers.share(D("0.1234")) == "12.3%"
    assert numbers.share(D("1")) == "100.0%"
    assert numbers.percent_rate(D("0.2")) == "20%"
    assert numbers.percent_rate(D("0.125")) == "12.5%"


def test_grammar_agrees_with_the_count():
    assert numbers.agree(1, "price", "takes", "take") == "1 price takes"  # not "1 of these price"
    assert numbers.agree(3, "price", "takes", "take") == "3 prices take"
    assert numbers.counted(1200, "event") == "1,200 events"
    assert numbers.counted(2, "is", "are") == "2 are"


def test_floats_are_refused():
    with pytest.raises(MoneyError):
        numbers.money(0.1, "USD")
    with pytest.raises(MoneyError):
        numbers.quantity(0.1)


def test_the_template_filters_use_the_same_words():
    html = Template(
        "{{ a|money:'USD' }}|{{ a|exact_money:'USD' }}|{{ c|change:'USD' }}|{{ n|count }}|"
        "{% agree 1 'price' 'takes' 'take' %}"
    ).render(Context({"a": D("0.00036"), "c": D("5.03"), "n": 64388}))
    assert html == "&lt; $0.01|$0.00036|(+$5.03)|64,388|1 price takes"
