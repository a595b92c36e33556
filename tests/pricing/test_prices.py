from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from chargeback.pricing.prices import (
    NoPrice,
    Rates,
    Usage,
    cost,
    integer_rates,
    pico_cost,
)

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


RATES = st.one_of(
    st.none(),
    st.decimals(min_value=0, max_value=1000, places=10, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("0.15"), Decimal("2.5"), Decimal("0.0000000001"), Decimal(0)]),
)
TOKENS = st.integers(min_value=0, max_value=100_000_000)


@hyp_settings(max_examples=600, deadline=None)
@given(
    rates=st.tuples(*[RATES] * 7),
    tokens=st.tuples(TOKENS, TOKENS, TOKENS, TOKENS),
    batch=st.booleans(),
)
def test_ingestion_integer_pricing_is_cost(rates, tokens, batch):
    """pico_cost, ingestion's integer path, gives exactly what cost gives in Decimal (and
    falls back to cost where integers cannot do it)."""
    inp, out, cached, written = tokens
    cached, written = min(cached, inp), min(written, inp - min(cached, inp))
    r = Rates(*rates)
    usage = Usage(inp, out, cached, written, batch)
    ints = integer_rates(r)
    if r.input is None or r.output is None:
        assert ints == ()
        with pytest.raises(NoPrice):
            cost(usage, r)
        return
    assert ints  # every finite, non-negative set of rates goes through integers
    expected = cost(usage, r)
    for integer in (ints, ()):  # the integer path, and the fallback
        pico = pico_cost(r, integer, inp, out, cached, written, batch)
        assert Decimal(pico).scaleb(-12) == expected


def test_integer_pricing_rounds_half_even_like_cost():
    """A thousandth of a pico-unit per token: ties at the 12th decimal place round to even."""
    r = Rates(input=Decimal("0.0000005"), output=Decimal("0.0000015"))
    for inp in range(0, 30):
        for out in range(0, 5):
            usage = Usage(inp, out)
            assert Decimal(pico_cost(r, integer_rates(r), inp, out, 0, 0, False)).scaleb(
                -12
            ) == cost(usage, r)
