"""How statement lines' quantities and unit prices read on the pages and in the PDF."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from chargeback.billing.display import quantity_text, unit_price_text


@pytest.mark.parametrize(
    ("kind", "quantity", "unit_price", "shown"),
    [
        ("markup", D("240.031"), D("0.2"), ("$240.03", "20%")),
        ("platform_fee", D("8"), D("0.15"), ("$8.00", "15%")),
        ("discount", D("2562.65"), D("-0.4"), ("$2,562.65", "-40%")),
        ("allowance", D("240.031"), None, ("$240.03", "")),
        (
            "usage",
            D("1042565315"),
            D("0.00000306829304984003"),
            ("1,042,565,315", "3.07 per 1M"),
        ),
        ("usage", D("500"), D("0.0008"), ("500", "0.0008")),
        ("activity", D("40"), D("0.50"), ("40", "0.50")),
        ("pool", D("12.34567"), None, ("12.35", "")),
        ("adjustment", None, None, ("", "")),
    ],
)
def test_lines_read_as_money_rates_and_prices_per_million(kind, quantity, unit_price, shown):
    assert (
        quantity_text(kind, quantity, unit_price, "USD"),
        unit_price_text(kind, quantity, unit_price),
    ) == shown
