"""The allocation engine: DESIGN.md section 1's worked figures, each policy feature, and the
properties (conservation, sums, no negative shares, order independence). No database."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from chargeback.allocation.engine import (
    Allocation,
    ModelUsage,
    MonthUsage,
    UnitUsage,
    allocate,
    graduated_bands,
    tier_for,
)
from chargeback.allocation.policy import (
    DEFAULT_TIERS,
    ActivityRate,
    Discount,
    Policy,
    Pool,
    Tier,
)
from chargeback.money import quantize

DESIGN = Policy(fee_percent=D("0.15"))  # the default tiers and a 15% platform fee
NO_FEES = Policy(tiers=(Tier("Flat", None, D(0)),))


def unit(code: str, cost: str, tokens: int = 0, requests: int = 0, **kw) -> UnitUsage:
    errors, error_cost = kw.pop("errors", 0), D(kw.pop("error_cost", "0"))
    model = kw.pop("model", f"{code.lower()}-bot")
    m = ModelUsage("internal", model, D(cost), tokens // 2, tokens - tokens // 2, requests,
                   errors, error_cost)  # fmt: skip
    return UnitUsage(code, (m,), **kw)


def worked_units() -> tuple[UnitUsage, ...]:
    """Support 2,000,000 calls at $0.0008; Sales 80,000 at $0.09; the agent 300,000 failed or
    retried calls at $0.015 (DESIGN.md section 1). Tokens put each in a different tier."""
    return (
        unit("SUP", str(2_000_000 * D("0.0008")), 5_000_000, 2_000_000),
        unit("SALES", str(80_000 * D("0.09")), 50_000_000, 80_000),
        unit(
            "AGENT",
            str(300_000 * D("0.015")),
            150_000_000,
            300_000,
            errors=300_000,
            error_cost="4500",
        ),  # fmt: skip
    )


def month(*units: UnitUsage, currency: str = "USD", unallocated: str = "0") -> MonthUsage:
    return MonthUsage(currency, "PLAT", units, D(unallocated))


def amounts(allocation: Allocation, kind: str | None = None) -> dict[str, D]:
    return {
        s.unit: sum((x.amount for x in s.lines if kind in (None, x.kind)), D(0))
        for s in allocation.statements
    }


def lines(allocation: Allocation, code: str) -> list[tuple[str, D]]:
    return [(x.kind, x.amount) for x in allocation.statement(code).lines]


# DESIGN.md section 1 ----------------------------------------------------------------------


def test_worked_figures_tiers_markups_and_platform_fee():
    result = allocate(month(*worked_units()), DESIGN)
    assert [(s.unit, s.tier, s.total) for s in result.statements] == [
        ("AGENT", "Enterprise", D("5625.00")),  # 4,500 + 10% + 15%
        ("PLAT", None, D("0.00")),
        ("SALES", "Standard", D("9720.00")),  # 7,200 + 20% + 15%
        ("SUP", "Experimental", D("2640.00")),  # 1,600 + 50% + 15%
    ]
    assert lines(result, "SUP") == [
        ("usage", D("1600.00")),
        ("markup", D("800.00")),
        ("platform_fee", D("240.00")),
    ]
    sup = result.statement("SUP").lines
    assert sup[1].description == "Tier markup: Experimental (50%)"
    assert sup[2].description == "Platform fee (15% of usage cost)"
    assert sum(u.cost for u in worked_units()) == D("13300")


def test_worked_invoice_by_requests_bills_support_most_by_spend_sales_and_agent_own_88():
    invoice = D("13300.00")
    by_requests = Policy(
        tiers=NO_FEES.tiers, pools=(Pool("Invoice", "manual", "requests", invoice),)
    )
    shares = amounts(allocate(month(*worked_units()), by_requests), "pool")
    assert shares == {
        "AGENT": D("1676.47"),
        "PLAT": D(0),
        "SALES": D("447.06"),
        "SUP": D("11176.47"),
    }
    assert max(shares, key=shares.get) == "SUP"
    by_spend = Policy(tiers=NO_FEES.tiers, pools=(Pool("Invoice", "manual", "spend", invoice),))
    shares = amounts(allocate(month(*worked_units()), by_spend), "pool")
    assert shares == {
        "AGENT": D("4500.00"),
        "PLAT": D(0),
        "SALES": D("7200.00"),
        "SUP": D("1600.00"),
    }
    assert round((shares["SALES"] + shares["AGENT"]) / invoice, 2) == D("0.88")


# Tiers ------------------------------------------------------------------------------------


def test_volume_tier_edges_are_exclusive():
    assert [tier_for(DEFAULT_TIERS, n).name for n in (0, 9_999_999, 10_000_000)] == [
        "Experimental", "Experimental", "Standard"
    ]  # fmt: skip
    assert [tier_for(DEFAULT_TIERS, n).name for n in (99_999_999, 100_000_000)] == [
        "Standard", "Enterprise"
    ]  # fmt: skip
    edge = allocate(month(unit("A", "1000", 9_999_999), unit("B", "1000", 10_000_000)), DESIGN)
    assert amounts(edge, "markup") == {"A": D("500.00"), "B": D("200.00"), "PLAT": D(0)}


def test_graduated_bands_each_at_its_markup():
    policy = Policy(tier_mode="graduated")
    assert graduated_bands(DEFAULT_TIERS, 150_000_000) == [
        (DEFAULT_TIERS[0], 10_000_000), (DEFAULT_TIERS[1], 90_000_000), (DEFAULT_TIERS[2], 50_000_000)
    ]  # fmt: skip
    result = allocate(
        month(unit("A", "2000", 20_000_000), unit("B", "1000", 10_000_000),
              unit("C", "1500", 150_000_000), unit("D", "999", 9_999_999)),
        policy,
    )  # fmt: skip
    assert lines(result, "A") == [
        ("usage", D("2000.00")),
        ("markup", D("500.00")),
        ("markup", D("200.00")),
    ]
    assert result.statement("A").lines[1].description == (
        "Tier markup: Experimental band, 10,000,000 tokens (50%)"
    )
    assert amounts(result, "markup") == {
        "A": D("700.00"),
        "B": D("500.00"),  # exactly 10M tokens: all in the first band, the month reached Standard
        "C": D("280.00"),  # 50 + 180 + 50
        "D": D("499.50"),
        "PLAT": D(0),
    }
    assert [result.statement(c).tier for c in "ABCD"] == [
        "Standard", "Standard", "Enterprise", "Experimental"
    ]  # fmt: skip


def test_fixed_platform_fee_per_unit():
    policy = Policy(tiers=NO_FEES.tiers, fee_percent=D("0.10"), fee_fixed=D("25"))
    result = allocate(month(unit("A", "100")), policy)
    assert lines(result, "A") == [
        ("usage", D("100.00")),
        ("platform_fee", D("10.00")),
        ("platform_fee", D("25.00")),
    ]


# Pools ------------------------------------------------------------------------------------


def test_pool_by_tokens_and_targets():
    pool = Pool("Gateway", "manual", "tokens", D("100"), targets=("A", "B"))
    result = allocate(
        month(unit("A", "1", 1_000), unit("B", "1", 2_000), unit("C", "50", 9_000)),
        Policy(tiers=NO_FEES.tiers, pools=(pool,)),
    )
    assert amounts(result, "pool") == {"A": D("33.33"), "B": D("66.67"), "C": D(0), "PLAT": D(0)}
    assert result.statement("A").lines[-1].description == "Pool: Gateway (by tokens, of 100.00)"


def test_pool_by_fixed_weights_reaches_units_without_usage():
    pool = Pool("Eval", "manual", "fixed", D("10"), weights=(("A", D(1)), ("Z", D(2))))
    result = allocate(month(unit("A", "1")), Policy(tiers=NO_FEES.tiers, pools=(pool,)))
    assert amounts(result, "pool") == {"A": D("3.33"), "PLAT": D(0), "Z": D("6.67")}


def test_unallocated_pool_moves_it_off_the_central_bucket():
    central = UnitUsage("PLAT", (ModelUsage("openai", "gpt-4o", D("30.005")),))
    pool = Pool("Unallocated", "unallocated", "spend")
    result = allocate(
        month(central, unit("A", "10"), unit("B", "30"), unallocated="30.005"),
        Policy(tiers=NO_FEES.tiers, pools=(pool,)),
    )
    assert lines(result, "PLAT") == [("usage", D("30.01")), ("pool", D("-30.01"))]
    assert amounts(result, "pool") == {"A": D("7.50"), "B": D("22.51"), "PLAT": D("-30.01")}
    assert result.unallocated == D("30.01")


def test_shared_service_pool_moves_its_spend_from_its_owner():
    owner = unit("RAG", "40", services=(("retrieval", D("40")),))
    pool = Pool("Retrieval", "service:retrieval", "requests", targets=("A", "B"))
    result = allocate(
        month(owner, unit("A", "1", requests=1), unit("B", "1", requests=3)),
        Policy(tiers=NO_FEES.tiers, pools=(pool,)),
    )
    assert amounts(result, "pool") == {
        "A": D("10.00"),
        "B": D("30.00"),
        "PLAT": D(0),
        "RAG": D("-40.00"),
    }
    assert result.statement("RAG").total == D("0.00")


def test_pool_with_nothing_to_share_by_stays_central():
    pool = Pool("Gateway", "manual", "spend", D("12"), targets=("A",))
    result = allocate(month(unit("A", "0")), Policy(tiers=NO_FEES.tiers, pools=(pool,)))
    assert amounts(result, "pool") == {"A": D(0), "PLAT": D("12.00")}


# Hybrid, activity, discounts, allowance, failed requests ---------------------------------


def test_hybrid_baseline_is_paid_centrally_units_pay_the_overage():
    policy = Policy(tiers=NO_FEES.tiers, central_baseline=D("100"))
    result = allocate(month(unit("A", "250"), unit("B", "60")), policy)
    assert lines(result, "A") == [("usage", D("250.00")), ("allowance", D("-100.00"))]
    assert lines(result, "B") == [("usage", D("60.00")), ("allowance", D("-60.00"))]
    assert lines(result, "PLAT") == [("allowance", D("100.00")), ("allowance", D("60.00"))]
    assert result.total == D("310.00")


def test_activity_rate_replaces_the_usage_charge_difference_to_central():
    sup = unit("SUP", "1600", 5_000_000, outcomes=(("resolved_ticket", 1_200),))
    policy = Policy(
        fee_percent=D("0.15"), activity_rates=(ActivityRate("SUP", "resolved_ticket", D("0.50")),)
    )
    result = allocate(month(sup, unit("SALES", "100")), policy)
    assert lines(result, "SUP") == [
        ("usage", D("1600.00")),
        ("activity", D("600.00")),
        ("activity", D("-1600.00")),
    ]
    assert result.statement("SUP").total == D("600.00")
    assert (
        result.statement("SUP").lines[1].description
        == "Activity rate: 1,200 resolved_ticket at 0.50"
    )
    assert lines(result, "PLAT") == [("activity", D("1000.00"))]
    assert result.statement("PLAT").lines[0].description == (
        "Activity-rate difference of SUP: usage 1,600.00 less 600.00 charged"
    )
    assert result.statement("SUP").cost_per_outcome == (("resolved_ticket", D("1.33")),)
    assert result.statement("SALES").total == D("165.00")  # 100 + 50% + 15%


def test_discount_shared_by_model_spend():
    a = UnitUsage(
        "A", (ModelUsage("openai", "gpt-4o", D("300")), ModelUsage("openai", "mini", D("900")))
    )
    b = UnitUsage("B", (ModelUsage("openai", "gpt-4o", D("100")),))
    policy = Policy(
        tiers=NO_FEES.tiers,
        discounts=(Discount("Committed use", D("100"), models=("gpt-4o",)),),
    )
    result = allocate(month(a, b), policy)
    assert amounts(result, "discount") == {"A": D("-75.00"), "B": D("-25.00"), "PLAT": D(0)}
    assert result.total == D("1200.00")  # 1,300 spend - 100 discount
    everything = Policy(tiers=NO_FEES.tiers, discounts=(Discount("Negotiated", D("13")),))
    assert amounts(allocate(month(a, b), everything), "discount") == {
        "A": D("-12.00"), "B": D("-1.00"), "PLAT": D(0)
    }  # fmt: skip


def test_experimental_allowance_shown_not_charged():
    policy = Policy(tiers=NO_FEES.tiers, allowance_per_unit=D("50"))
    result = allocate(
        month(unit("A", "80", experiment_cost=D("80")), unit("B", "80", experiment_cost=D("20"))),
        policy,
    )
    assert amounts(result, "allowance") == {"A": D("-50.00"), "B": D("-20.00"), "PLAT": D("70.00")}
    assert result.total == D("160.00")


def test_failed_requests_to_the_platform():
    policy = Policy(fee_percent=D("0.15"), failed_requests="platform")
    result = allocate(month(*worked_units()), policy)
    assert lines(result, "AGENT") == [("usage", D("0.00"))]
    assert (
        "300,000 failed, charged to the platform" in result.statement("AGENT").lines[0].description
    )
    assert lines(result, "PLAT") == [("usage", D("4500.00"))]
    assert result.statement("PLAT").lines[0].description == (
        "Failed and retried requests of AGENT: internal/agent-bot, 300,000 requests"
    )
    owner = allocate(month(*worked_units()), DESIGN)
    assert owner.statement("AGENT").total == D("5625.00")


def test_zero_decimal_currency_and_remainders():
    policy = Policy(tiers=NO_FEES.tiers, fee_percent=D("0.15"), pools=(Pool("P", "manual", "fixed", D("100"), weights=(("A", D(1)), ("B", D(1)), ("C", D(1)))),))  # fmt: skip
    result = allocate(
        month(unit("A", "333.3"), unit("B", "333.3"), unit("C", "333.4"), currency="JPY"),
        policy,
    )
    assert amounts(result, "pool") == {"A": D(34), "B": D(33), "C": D(33), "PLAT": D(0)}
    assert [s.total for s in result.statements] == [D(417), D(416), D(416), D(0)]
    assert lines(result, "A") == [("usage", D(333)), ("platform_fee", D(50)), ("pool", D(34))]
    # own lines round together: 333.3 + 49.995 = 383.295 -> 383, not 333 + 50
    assert all(x.amount == x.amount.to_integral_value() for s in result.statements for x in s.lines)


def test_own_lines_round_together_to_the_exact_total():
    policy = Policy(tiers=(Tier("T", None, D("0.333")),), fee_percent=D("0.1"))
    result = allocate(month(unit("A", "0.105")), policy)
    # exact 0.105 + 0.034965 + 0.0105 = 0.150465 -> 0.15; floors 0.10 + 0.03 + 0.01, and the
    # leftover cent goes to the largest remainder (the usage line's half cent)
    assert lines(result, "A") == [
        ("usage", D("0.11")),
        ("markup", D("0.03")),
        ("platform_fee", D("0.01")),
    ]
    assert result.statement("A").total == D("0.15")


# Properties -------------------------------------------------------------------------------

CURRENCIES = st.sampled_from(["USD", "JPY", "EUR", "BHD"])
MONEY = st.decimals(min_value=0, max_value=100_000, places=6, allow_nan=False, allow_infinity=False)
CODES = st.sampled_from(["A", "B", "C", "D", "E", "PLAT"])


@st.composite
def usages(draw: st.DrawFn) -> UnitUsage:
    code = draw(CODES)
    models = []
    for name in draw(
        st.lists(st.sampled_from(["gpt-4o", "mini", "haiku"]), max_size=3, unique=True)
    ):
        cost = draw(MONEY)
        models.append(
            ModelUsage("openai", name, cost, draw(st.integers(0, 80_000_000)),
                       draw(st.integers(0, 80_000_000)), draw(st.integers(0, 10**6)),
                       draw(st.integers(0, 100)), cost * draw(st.sampled_from([D(0), D("0.3"), D(1)])))
        )  # fmt: skip
    return UnitUsage(
        code,
        tuple(models),
        outcomes=(("ticket", draw(st.integers(0, 5000))),),
        experiment_cost=draw(MONEY),
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    pools = tuple(
        Pool(f"P{i}", "manual", draw(st.sampled_from(["spend", "tokens", "requests"])), draw(MONEY),
             targets=draw(st.none() | st.lists(CODES, min_size=1, unique=True).map(lambda c: tuple(sorted(c)))))
        for i in range(draw(st.integers(0, 2)))
    )  # fmt: skip
    pools += (Pool("Unallocated", "unallocated", "spend"),) if draw(st.booleans()) else ()
    return Policy(
        tiers=(
            Tier("Low", draw(st.integers(1, 50_000_000)), draw(MONEY.map(lambda m: m / 100_000))),
            Tier("High", None, draw(MONEY.map(lambda m: m / 100_000))),
        ),
        fee_percent=draw(st.sampled_from([D(0), D("0.15"), D("0.333")])),
        fee_fixed=draw(st.sampled_from([D(0), D("12.345")])),
        failed_requests=draw(st.sampled_from(["owner", "platform"])),
        pools=pools,
        central_baseline=draw(st.sampled_from([D(0), D("100")])),
        activity_rates=(ActivityRate("B", "ticket", D("0.5")),) if draw(st.booleans()) else (),
        discounts=tuple(
            Discount(f"D{i}", draw(MONEY), models=("mini",) if i else ())
            for i in range(draw(st.integers(0, 2)))
        ),  # fmt: skip
        allowance_per_unit=draw(st.sampled_from([D(0), D("50")])),
    )


def reference_own(unit: UnitUsage, policy: Policy, rated: bool) -> D:
    """A unit's own charge at full precision, written independently of the engine (volume)."""
    to_platform = policy.failed_requests == "platform"
    base = sum((m.cost - (m.error_cost if to_platform else 0) for m in unit.models), D(0))
    if rated:
        return base
    tier = next(t for t in policy.tiers if t.up_to_tokens is None or unit.tokens < t.up_to_tokens)
    markup = tier.markup if unit.models else D(0)
    return base + base * markup + base * policy.fee_percent + policy.fee_fixed


@settings(max_examples=150, deadline=None)
@given(st.lists(usages(), max_size=6), policies(), CURRENCIES, MONEY, st.data())
def test_properties(units, policy, currency, unallocated, data):
    usage = MonthUsage(currency, "PLAT", tuple(units), unallocated)
    result = allocate(usage, policy)
    statements = {s.unit: s for s in result.statements}
    # every amount is in the minor unit, and the lines sum exactly to the statement's total
    for s in result.statements:
        assert all(x.amount == quantize(x.amount, currency) for x in s.lines)
        assert sum((x.amount for x in s.lines), D(0)) == s.total
    # pool conservation, and no negative share of a positive pool
    for pool in policy.pools:
        shares = [x.amount for s in result.statements for x in s.lines if x.ref == pool.name]
        if pool.source == "manual":
            assert sum(shares, D(0)) == quantize(pool.amount, currency)
            assert all(a >= 0 for a in shares)
        else:
            assert sum(shares, D(0)) == 0
    # sum of statements = rounded own charges (cost + markups + fees) + manual pools - discounts
    merged = {}
    for u in units:
        merged.setdefault(u.code, []).append(u)
    rated = {r.unit for r in policy.activity_rates}
    own_rounded = D(0)
    exact_own = D(0)
    for code, s in statements.items():
        own = sum(
            (x.amount for x in s.lines if x.kind in ("usage", "markup", "platform_fee")), D(0)
        )
        own_rounded += own
        if code == "PLAT":
            continue
        parts = merged.get(code, [])
        combined = UnitUsage(code, tuple(m for p in parts for m in p.models))
        if parts:
            exact = reference_own(combined, policy, code in rated)
            assert own == quantize(exact, currency)
            exact_own += exact
    manual = sum((quantize(p.amount, currency) for p in policy.pools if p.source == "manual"), D(0))
    discounts = sum((quantize(d.amount, currency) for d in policy.discounts), D(0))
    assert result.total == own_rounded + manual - discounts
    central = sum((u.cost for u in units if u.code == "PLAT"), D(0))
    if policy.failed_requests == "platform":
        central += sum((m.error_cost for u in units if u.code != "PLAT" for m in u.models), D(0))
    half = D(1).scaleb(quantize(D(0), currency).as_tuple().exponent) / 2
    assert abs(own_rounded - exact_own - central) <= half * len(statements)
    # the same result whatever the order of the units
    shuffled = data.draw(st.permutations(units))
    assert allocate(MonthUsage(currency, "PLAT", tuple(shuffled), unallocated), policy) == result
