"""Confidence-gated charging in the engine: a unit's charge for spend attributed by weaker
evidence than the policy's `confidence_gate.min_method` moves to the central bucket, as a
negative line on the unit's statement and the same positive line on the central bucket's."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from chargeback.allocation.engine import ModelUsage, MonthUsage, UnitUsage, allocate
from chargeback.allocation.policy import Policy, PolicyError, parse_policy, policy_doc

D = Decimal


def _month(cost: str, tokens: int, methods, errors: str = "0") -> MonthUsage:
    sup = UnitUsage(
        "SUP",
        (
            ModelUsage(
                "internal", "flat", D(cost), tokens, 0, 10, 1 if D(errors) else 0, D(errors)
            ),
        ),  # fmt: skip
        methods=tuple((m, D(c), D(e)) for m, c, e in methods),
    )
    return MonthUsage("USD", "CENTRAL", (sup,))


def _lines(allocation, code):
    statement = allocation.statement(code)
    assert sum((x.amount for x in statement.lines), D(0)) == statement.total  # lines sum to it
    return [(x.kind, x.amount, x.ref) for x in statement.lines]


def test_the_low_confidence_charge_moves_to_the_central_bucket_with_its_markup():
    # $100 of usage, $40 of it attributed by an ownership rule; Experimental tier, 50% markup.
    usage = _month("100", 1_000_000, [("team_tag", "60", "0"), ("rule", "40", "0")])
    off = allocate(usage, Policy())
    gated = allocate(usage, Policy(confidence_min="gateway_key"))
    assert _lines(gated, "SUP") == [
        ("usage", D("100.00"), "internal/flat"),
        ("markup", D("50.00"), "Experimental"),
        ("confidence", D("-60.00"), "CENTRAL"),
    ]
    assert _lines(gated, "CENTRAL") == [("confidence", D("60.00"), "SUP")]
    assert gated.statement("SUP").total == D("90.00")
    assert gated.total == off.total == D("150.00")  # conserved across the statements
    line = gated.statement("SUP").lines[-1]
    assert line.quantity == D(40)
    assert line.description == (
        "Low-confidence spend to the central bucket: $40.00 attributed by ownership rule "
        "(charged only when attributed by gateway key or better), with its markup and fee"
    )
    central = gated.statement("CENTRAL").lines[0].description
    assert (
        central
        == "Low-confidence spend of SUP: $40.00 attributed by ownership rule, not charged to it"
    )


def test_graduated_tiers_and_the_percentage_fee_move_at_the_unit_s_own_rate():
    # 15M tokens: 10M at 50%, 5M at 20%: a 40% markup overall; a 15% fee: 1.55 per $1.
    usage = _month("300", 15_000_000, [("gateway_key", "200", "0"), ("service", "100", "0")])
    policy = Policy(tier_mode="graduated", fee_percent=D("0.15"), confidence_min="gateway_key")
    gated = allocate(usage, policy)
    assert [x for x in _lines(gated, "SUP") if x[0] == "confidence"] == [
        ("confidence", D("-155.00"), "CENTRAL")
    ]
    assert gated.statement("SUP").total == D("465.00") - D("155.00")
    assert gated.total == allocate(usage, replace(policy, confidence_min=None)).total


def test_only_methods_below_the_minimum_move_and_rounding_stays_conserved():
    usage = _month("10", 1_000, [("team_tag", "1", "0"), ("gateway_key", "2.333333", "0"),
                                 ("service", "3", "0"), ("rule", "3.666667", "0")])  # fmt: skip
    moved = {
        m: allocate(usage, Policy(confidence_min=m)).statement("CENTRAL").total
        for m in ("team_tag", "gateway_key", "provider_account", "service", "rule")
    }
    assert moved == {
        "team_tag": D("13.50"),  # 9 x 1.5
        "gateway_key": D("10.00"),  # 6.666667 x 1.5 = 10.0000005
        "provider_account": D("10.00"),
        "service": D("5.50"),  # 3.666667 x 1.5 = 5.5000005
        "rule": D("0.00"),  # nothing is below a rule but the fallback, already central
    }
    for m in moved:
        assert allocate(usage, Policy(confidence_min=m)).total == allocate(usage, Policy()).total


def test_failed_requests_charged_to_the_platform_are_not_moved_twice():
    usage = _month("100", 1_000_000, [("team_tag", "50", "0"), ("rule", "50", "20")], "20")
    gated = allocate(usage, Policy(failed_requests="platform", confidence_min="service"))
    assert [x for x in _lines(gated, "SUP") if x[0] == "confidence"] == [
        ("confidence", D("-45.00"), "CENTRAL")  # ($50 - $20 failed) x 1.5
    ]
    assert gated.total == allocate(usage, Policy(failed_requests="platform")).total


def test_the_policy_option_parses_writes_back_and_names_its_errors():
    policy = parse_policy({"confidence_gate": {"min_method": "gateway_key"}})
    assert policy.confidence_min == "gateway_key"
    assert policy_doc(policy)["confidence_gate"] == {"min_method": "gateway_key"}
    assert parse_policy(policy_doc(policy)) == policy
    assert "confidence_gate" not in policy_doc(Policy())
    assert parse_policy({"confidence_gate": {}}).confidence_min is None
    for doc, error in (
        ({"confidence_gate": {"min_method": "central"}},
         'policy.confidence_gate.min_method: "central" is not one of team_tag, gateway_key, '
         "provider_account, service, rule"),
        ({"confidence_gate": "on"}, 'policy.confidence_gate: must be a mapping, not "on"'),
        ({"confidence_gate": {"min": "rule"}}, "policy.confidence_gate.min: unknown key"),
    ):  # fmt: skip
        with pytest.raises(PolicyError) as caught:
            parse_policy(doc)
        assert any(e.startswith(error) for e in caught.value.errors), caught.value.errors
