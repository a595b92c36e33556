"""Reading and writing the allocation policy (DESIGN 6.2 `policy`). No database."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from chargeback.allocation.policy import (
    DEFAULT_TIERS,
    ActivityRate,
    Discount,
    Policy,
    PolicyError,
    Pool,
    Tier,
    parse_policy,
    policy_doc,
)

DESIGN_DOC = {
    "effective_from": "2026-10",
    "charge_basis": "token",
    "tier_mode": "volume",
    "tiers": [
        {"name": "Experimental", "up_to_tokens": 10000000, "markup": "0.50"},
        {"name": "Standard", "up_to_tokens": 100000000, "markup": "0.20"},
        {"name": "Enterprise", "up_to_tokens": None, "markup": "0.10"},
    ],
    "platform_fee": {"percent": "0.15", "fixed_per_unit": "0.00"},
    "failed_requests": "owner",
    "pools": [
        {
            "name": "Gateway infrastructure",
            "source": "manual",
            "amount": "1200.00",
            "basis": "spend",
            "targets": "all",
        },
        {
            "name": "Evaluation",
            "source": "service:evals",
            "basis": "fixed",
            "weights": {"SUP": "2", "SALES": "1"},
        },
    ],  # fmt: skip
    "hybrid": {"central_baseline_per_unit": "0.00"},
    "activity_rates": [{"unit": "SUP", "outcome": "resolved_ticket", "rate": "0.50"}],
    "discounts": [{"name": "Committed use", "amount": "500.00", "basis": "model_spend"}],
    "experimental_allowance": {"per_unit": "0.00"},
}


def errors(data: object, **kw) -> list[str]:
    with pytest.raises(PolicyError) as exc:
        parse_policy(data, **kw)
    return exc.value.errors


def test_design_example_parses_and_round_trips():
    policy = parse_policy(DESIGN_DOC)
    assert policy == Policy(
        effective_from="2026-10",
        tiers=DEFAULT_TIERS,
        fee_percent=D("0.15"),
        pools=(
            Pool("Gateway infrastructure", "manual", "spend", D("1200")),
            Pool("Evaluation", "service:evals", "fixed", weights=(("SALES", D(1)), ("SUP", D(2)))),
        ),
        activity_rates=(ActivityRate("SUP", "resolved_ticket", D("0.5")),),
        discounts=(Discount("Committed use", D(500)),),
    )
    assert policy.pools[1].service == "evals"
    assert policy_doc(policy) == DESIGN_DOC
    assert parse_policy(policy_doc(policy)) == policy


def test_defaults():
    assert parse_policy({}) == Policy()
    assert parse_policy(None) == Policy()
    assert Policy().tiers[0] == Tier("Experimental", 10_000_000, D("0.50"))


def test_errors_name_their_paths():
    doc = {
        **DESIGN_DOC,
        "effective_from": "2026-13",
        "tier_mode": "stepped",
        "tiers": [
            {"name": "A", "up_to_tokens": 100, "markup": "0.5"},
            {"name": "B", "up_to_tokens": 50, "markup": "abc"},
            {"name": "C", "up_to_tokens": None, "markup": 0.1},
        ],
        "platform_fee": {"percent": "15", "fixed": "1"},
        "pools": [{"name": "P", "source": "somewhere", "basis": "fixed", "weights": {"A": "0"}}],
        "activity_rates": [{"unit": "SUP", "outcome": "t", "rate": "-1"}],
    }
    assert errors(doc) == [
        'policy.effective_from: "2026-13" is not a month (YYYY-MM)',
        "policy.platform_fee.fixed: unknown key (allowed: percent, fixed_per_unit, fixed_to)",
        'policy.tier_mode: "stepped" is not one of volume, graduated',
        "policy.tiers[1].up_to_tokens: 50 must be above the previous tier's 100",
        'policy.tiers[1].markup: "abc" is not a decimal',
        'policy.tiers[2].markup: must be a decimal such as "0.50", not a number (0.1); quote it',
        'policy.platform_fee.percent: "15" is more than 1 (write 15% as "0.15")',
        'policy.pools[0].source: "somewhere" is not one of manual, unallocated, service:<name>',
        "policy.pools[0].weights: the weights sum to zero",
        'policy.activity_rates[0].rate: "-1" must not be negative',
    ]


def test_tier_gaps_and_open_tiers():
    assert errors({"tiers": [{"name": "A", "up_to_tokens": 10, "markup": "0"}]}) == [
        "policy.tiers[0].up_to_tokens: the last tier must be open (null): tokens above it would have no tier"
    ]
    assert errors({"tiers": [{"name": "A", "markup": "0"}, {"name": "a", "markup": "0"}]}) == [
        "policy.tiers[0].up_to_tokens: only the last tier may be open (null)",
        'policy.tiers[1].name: duplicate tier "a"',
    ]
    assert errors({"tiers": []}) == ["policy.tiers: needs at least one tier"]


def test_unit_references_checked_when_units_are_given():
    doc = {
        "pools": [
            {"name": "P", "source": "manual", "amount": "1", "targets": ["SUP", "OLD", "NOPE"]}
        ],
        "activity_rates": [{"unit": "GONE", "outcome": "t", "rate": "1"}],
    }
    assert errors(doc, units={"SUP": False, "OLD": True}) == [
        'policy.pools[0].targets[1]: unit "OLD" is archived',
        'policy.pools[0].targets[2]: unknown unit "NOPE"',
        'policy.activity_rates[0].unit: unknown unit "GONE"',
    ]
    assert errors({}, require_month=True) == [
        'policy.effective_from: required, a month such as "2026-10"'
    ]
    assert errors([1]) == ["policy: must be a mapping, not a list"]
    assert errors({"pools": [{"name": "P", "source": "unallocated", "amount": "5"}]}) == [
        "policy.pools[0].amount: only a manual pool has an amount"
    ]
