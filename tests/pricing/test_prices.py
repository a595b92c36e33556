from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargeback.pricing.prices import NoPrice, Rates, Usage, cost

GPT4O_MINI = Rates(
    input=Decimal("0.15"),
    output=Decimal("0.60"),
    cached_input=Decimal("0.075"),
    batch_input=Decimal("0.075"),
    batch_output=Decimal("0.30"),
)


def test_design_example_event():
    # 1,200 input (none cached) and 300 output tokens of gpt-4o-mini
    assert cost(Usage(1200, 300), GPT4O_MINI) == Decimal("0.000360000000")


def test_token_classes_do_not_overlap():
    rates = Rates(
        input=Decimal("3"),
        output=Decimal("15"),
        cached_input=Decimal("0.30"),
        cache_write=Decimal("3.75"),
    )
    usage = Usage(
        input_tokens=10_000,
        output_tokens=1_000,
        cached_input_tokens=6_000,
        cache_write_input_tokens=2_000,
    )
    # 2,000 plain x 3 + 6,000 x 0.30 + 2,000 x 3.75 + 1,000 x 15, per 1M
    assert cost(usage, rates) == Decimal("0.030300000000")


def test_batch_prices_replace_standard_ones():
    assert cost(Usage(1_000_000, 1_000_000, batch=True), GPT4O_MINI) == Decimal("0.375000000000")


def test_missing_cache_rates_fall_back_to_input_never_zero():
    rates = Rates(input=Decimal("2"), output=Decimal("8"))
    assert cost(Usage(1_000_000, 0, cached_input_tokens=500_000), rates) == Decimal(
        "2.000000000000"
    )


def test_per_request_fee():
    rates = Rates(input=Decimal("0"), output=Decimal("0"), per_request=Decimal("0.0008"))
    assert cost(Usage(0, 0), rates) == Decimal("0.000800000000")


def test_design_worked_figures_per_request():
    fee = lambda p: Rates(input=Decimal(0), output=Decimal(0), per_request=Decimal(p))  # noqa: E731
    support = cost(Usage(0, 0), fee("0.0008")) * 2_000_000
    sales = cost(Usage(0, 0), fee("0.09")) * 80_000
    agent = cost(Usage(0, 0), fee("0.015")) * 300_000
    assert (support, sales, agent) == (Decimal("1600"), Decimal("7200"), Decimal("4500"))
    assert support + sales + agent == Decimal("13300")


def test_no_price():
    with pytest.raises(NoPrice):
        cost(Usage(1, 1), Rates(input=None, output=Decimal("1")))


def test_cached_parts_cannot_exceed_input():
    with pytest.raises(ValueError, match="exceed"):
        cost(Usage(10, 0, cached_input_tokens=8, cache_write_input_tokens=3), GPT4O_MINI)


tokens = st.integers(min_value=0, max_value=10**9)


@given(a=tokens, b=tokens, out=tokens)
def test_cost_is_additive_over_requests(a, b, out):
    one = cost(Usage(a, out), GPT4O_MINI) + cost(Usage(b, 0), GPT4O_MINI)
    both = cost(Usage(a + b, out), GPT4O_MINI)
    assert one == both
