"""The reconciliation engine, without a database: the seed's figures, each cause from its data,
and the causes plus the unexplained rest equal to the variance exactly (hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from chargeback.reconciliation.engine import (
    CAUSES,
    Billed,
    Metered,
    Quarantined,
    family,
    reconcile,
)

D = Decimal
DAY = dt.date(2026, 10, 5)


def _m(amount, qty="1000000", cls="input", model="gpt-4o", day=DAY, **kw):
    return Metered("openai", model, day, cls, D(qty), D(amount), **kw)


def _b(amount, qty="1000000", cls="input", model="gpt-4o", day=None, provider="openai"):
    return Billed(provider, model, cls, D(qty), D(amount), day)


def _causes(result) -> dict[str, Decimal]:
    return {c.cause: c.amount for c in result.causes}


def _sums_exactly(result) -> None:
    assert sum(c.amount for c in result.causes) + result.unexplained == result.variance


def test_the_seed_example():
    result = reconcile(currency="USD", metered=[_m("46912.08")], billed=[_b("47820.31")])
    assert (result.metered, result.billed) == (D("46912.08"), D("47820.31"))
    assert result.variance == D("908.23")
    assert result.variance_pct == D("1.90")
    assert result.unexplained == D("908.23")
    assert [c.cause for c in result.causes] == list(CAUSES)
    _sums_exactly(result)


def test_family_strips_dates_and_versions():
    assert family("gpt-4o-2024-08-06") == "gpt-4o"
    assert family("claude-3-5-sonnet-20241022") == "claude-3-5-sonnet"
    assert family("GPT-4o-mini") == "gpt-4o-mini"
    assert family("gemini-1.5-pro-latest") == "gemini-1.5-pro"


def test_cached_tokens_priced_differently():
    # We priced 2M cache reads at $0.50/1M; the invoice bills them at $1.25/1M.
    result = reconcile(
        currency="USD",
        metered=[_m("10.00", "5000000"), _m("1.00", "2000000", "cached_input")],
        billed=[_b("10.00", "5000000"), _b("2.50", "2000000", "cached_input")],
    )
    assert _causes(result)["cached_pricing"] == D("1.50")
    assert result.unexplained == 0
    _sums_exactly(result)


def test_batch_pricing_after_the_fact():
    # 4M input tokens metered at $2.50/1M; the invoice bills 3M of them as batch at $1.25.
    result = reconcile(
        currency="USD",
        metered=[_m("10.00", "4000000")],
        billed=[_b("2.50", "1000000"), _b("3.75", "3000000", "batch_input")],
    )
    assert result.variance == D("-3.75")
    assert _causes(result)["batch_pricing"] == D("-3.75")
    assert result.unexplained == 0


def test_discounts_partial_usage_alias_lag_gaps_and_late_events():
    oct6, oct7 = dt.date(2026, 10, 6), dt.date(2026, 10, 7)
    result = reconcile(
        currency="USD",
        metered=[
            _m("20.00", "2000000", day=DAY),
            _m("4.00", "400000", day=oct7, late=True),  # arrived after the statements
        ],
        billed=[
            _b("20.00", "2000000", day=DAY),
            _b("30.00", "3000000", day=oct6),  # we metered nothing that day
            _b("4.00", "400000", day=oct7),
            _b("-5.00", "0", "other", model="credit"),
            _b("7.00", "700000", model="gpt-5-preview", day=DAY),
        ],
        quarantined=[Quarantined("openai", "gpt-5-preview", DAY, "input", D("500000"))],
    )
    causes = _causes(result)
    assert causes["discounts"] == D("-5.00")
    assert causes["alias_lag"] == D("5.00")  # 0.5M at the invoice's $10/1M for gpt-5
    assert causes["ingestion_gaps"] == D("30.00")  # Oct 6; Oct 7's usage came, late
    assert causes["late_events"] == D("4.00")
    assert (result.metered, result.billed, result.variance) == (D("20"), D("56"), D("36"))
    assert result.unexplained == D("2.00")  # gpt-5's 0.2M billed beyond the quarantined 0.5M
    _sums_exactly(result)


def test_partial_usage_errors_the_invoice_does_not_bill():
    result = reconcile(
        currency="USD",
        metered=[_m("20.00", "2000000"), _m("1.00", "100000", error=True)],
        billed=[_b("20.00", "2000000")],
    )
    assert _causes(result)["partial_usage"] == D("-1.00")
    assert result.unexplained == 0


def test_currency_rounding_takes_what_sub_cent_costs_leave():
    metered = [_m("0.004", "1000", day=DAY + dt.timedelta(days=i)) for i in range(3)]
    result = reconcile(currency="USD", metered=metered, billed=[_b("0.01", "3000")])
    assert result.metered == D("0.01")  # 0.012 rounded
    assert result.variance == 0
    _sums_exactly(result)


def test_nothing_billed_has_no_percentage():
    result = reconcile(currency="USD", metered=[_m("1.00")], billed=[])
    assert result.variance_pct is None and result.variance == D("-1.00")


amounts = st.decimals(min_value=-1000, max_value=100000, places=6, allow_nan=False)
quantities = st.integers(min_value=0, max_value=10**9).map(Decimal)
classes = st.sampled_from(["input", "cached_input", "cache_write", "output", "batch_input",
                           "batch_output", "request", "other"])  # fmt: skip
models = st.sampled_from(["gpt-4o", "gpt-4o-2024-08-06", "claude-3", "new-model"])
providers = st.sampled_from(["openai", "anthropic"])
days = st.dates(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
metered_st = st.builds(Metered, providers, models, days, classes, quantities,
                       amounts.map(abs), st.booleans(), st.booleans())  # fmt: skip
billed_st = st.builds(Billed, providers, models, classes, quantities, amounts,
                      st.one_of(st.none(), days))  # fmt: skip
quarantined_st = st.builds(Quarantined, providers, models, st.one_of(st.none(), days), classes,
                           quantities)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(metered_st, max_size=12),
    st.lists(billed_st, max_size=12),
    st.lists(quarantined_st, max_size=4),
    st.sampled_from(["USD", "JPY", "BHD"]),
)
def test_causes_and_unexplained_sum_exactly_to_the_variance(metered, billed, quarantined, cur):
    result = reconcile(currency=cur, metered=metered, billed=billed, quarantined=quarantined)
    _sums_exactly(result)
    assert result.variance == result.billed - result.metered
    assert [c.cause for c in result.causes] == list(CAUSES)
    again = reconcile(
        currency=cur, metered=metered[::-1], billed=billed[::-1], quarantined=quarantined[::-1]
    )
    assert (again.metered, again.billed, again.unexplained) == (
        result.metered, result.billed, result.unexplained
    )  # fmt: skip
