"""Confidence-gated charging (the policy's `confidence_gate: {min_method: ...}`): only spend
attributed with enough confidence is charged to a unit; the rest stays with the central bucket.

Attribution methods rank as attribution tries them (`units.attribution`): team tag, gateway
key, provider account, service, rule. Spend a unit got by a method ranked below `min_method`
is low-confidence. The unit's statement gets a negative `confidence` line taking off what it
was charged for that spend (its usage cost with the tier markup and the percentage platform
fee it carried; a fixed fee stays), and the central bucket's statement the same amount as a
positive line: the statements' sum does not change. Units on activity rates are charged by
outcomes, not usage, and are left alone. Pure: no ORM."""

from __future__ import annotations

from decimal import Decimal

from chargeback.allocation.figures import ZERO, UnitUsage
from chargeback.allocation.policy import CONFIDENT, Policy
from chargeback.allocation.tiers import graduated_bands, tier_for
from chargeback.money import quantize
from chargeback.numbers import money

LABELS = {
    "team_tag": "team tag",
    "gateway_key": "gateway key",
    "provider_account": "provider account",
    "service": "service",
    "rule": "ownership rule",
}


def below(policy: Policy) -> tuple[str, ...]:
    """The methods whose spend is not charged to a unit under `policy` (none when off)."""
    if policy.confidence_min is None:
        return ()
    return CONFIDENT[CONFIDENT.index(policy.confidence_min) + 1 :]


def low_confidence_cost(unit: UnitUsage, policy: Policy) -> Decimal:
    """The unit's usage cost attributed by a method below the gate (without failed requests
    when the policy charges those to the platform: the unit is not charged for them anyway)."""
    low = below(policy)
    errors_elsewhere = policy.failed_requests == "platform"
    return sum(
        (cost - (error_cost if errors_elsewhere else ZERO)
         for method, cost, error_cost in unit.methods if method in low),
        ZERO,
    )  # fmt: skip


def charge_rate(unit: UnitUsage, policy: Policy) -> Decimal:
    """What the unit is charged per unit of usage cost: 1 + its markup + the fee percent."""
    volume = unit.tier_volume
    if policy.tier_mode == "volume":
        markup = tier_for(policy.tiers, volume).markup
    elif volume:
        bands = graduated_bands(policy.tiers, volume)
        markup = sum((tier.markup * tokens for tier, tokens in bands), ZERO) / volume
    else:
        markup = ZERO
    return 1 + markup + policy.fee_percent


def confidence_gate(units, rated, policy: Policy, currency: str, draft, central: str) -> None:
    """Move each unit's charge for low-confidence spend to the central bucket (both lines)."""
    low_methods = below(policy)
    if not low_methods:
        return
    for code, unit in units.items():
        if code == central or code in rated:
            continue
        low = low_confidence_cost(unit, policy)
        amount = quantize(low * charge_rate(unit, policy), currency)
        if amount <= 0:
            continue
        spend = money(low, currency)
        used = {method for method, cost, _ in unit.methods if cost}
        names = " or ".join(LABELS[m] for m in low_methods if m in used)
        draft(code).add(
            "confidence",
            f"Low-confidence spend to the central bucket: {spend} attributed by {names} "
            f"(charged only when attributed by {LABELS[policy.confidence_min]} or better), "
            "with its markup and fee",
            -amount,
            quantity=low,
            ref=central,
        )
        draft(central).add(
            "confidence",
            f"Low-confidence spend of {code}: {spend} attributed by {names}, not charged to it",
            amount,
            quantity=low,
            ref=code,
        )
