"""The allocation engine: a month's usage per unit + the policy -> one statement per unit.

Pure functions over Decimal and frozen dataclasses; no ORM. The result does not depend on the
order of the inputs (units are taken by code, models by provider/model).

How a statement is built, in this order:

1. Own charge. Usage lines, one per provider/model, at priced cost. For a unit other than the
   central bucket: the tier markup (volume: the whole cost at the tier its monthly input +
   output tokens reach, cache hits left out as they are not charged: `UnitUsage.tier_volume`;
   graduated: the cost shared over the bands by tokens, each band at its markup;
   `up_to_tokens` is exclusive) and the platform fee (percent of usage cost, and the
   fixed fee per unit). With `failed_requests: platform` a unit's failed/retried cost is
   billed to the central bucket instead. The central bucket pays no markup or fee.
   Confidence gate (`allocation.confidence`): a unit's charge for spend attributed below the
   policy's `confidence_gate.min_method` moves to the central bucket, shown on both.
2. Activity rates: a unit on a rate is charged outcomes x rate instead of its usage charge
   (no markup or platform fee); its usage cost is credited and the difference goes to the central
   bucket, shown on both statements.
3. Discounts, shared by each unit's spend on the discounted models (all units, central too).
4. Development allowance (`experimental_allowance`): each unit's experiment spend up to `per_unit` is shown but not
   charged; the central bucket pays it.
5. Pools: a manual amount, the unallocated spend (taken off the central bucket) or a shared
   service's spend (taken off the units that own it), shared over the targets by spend,
   tokens, requests or fixed weights. A pool with nothing to share by stays with the central
   bucket.
6. Hybrid baseline: the central bucket pays each unit's first `central_baseline_per_unit`.

Rounding rule: amounts are quantised to the currency's minor unit. A statement's own lines
(usage, markup, platform fee) are rounded together: their sum is the exact own charge rounded
half up, and the leftover minor units go to the largest remainders (`money.largest_remainder`,
the routine `money.distribute` uses too: ties go to the key that sorts first, and a line's key
is its position on the statement, so the earlier line). Every other amount is quantised once
and then moved whole: pool and discount shares come from `money.distribute`, so they sum
exactly to the pool or discount, and every transfer between a unit and the central bucket
appears on both with opposite signs. Hence, exactly:

    sum of statements = sum over statements of round(own charge) + manual pools - discounts

and the own charges differ from cost + markups + fees by at most half a minor unit per statement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from chargeback.allocation.confidence import confidence_gate
from chargeback.allocation.figures import (
    KINDS,
    ZERO,
    Allocation,
    Line,
    ModelUsage,
    MonthUsage,
    Statement,
    UnitUsage,
)
from chargeback.allocation.policy import Policy, Pool
from chargeback.allocation.tiers import graduated_bands, tier_for
from chargeback.money import check_currency, distribute, largest_remainder, minor_units, quantize
from chargeback.wording import plural

__all__ = [
    "KINDS",
    "Allocation",
    "Line",
    "ModelUsage",
    "MonthUsage",
    "Statement",
    "UnitUsage",
    "allocate",
    "graduated_bands",
    "tier_for",
]


@dataclass
class _Draft:
    code: str
    exact: list[Line] = field(default_factory=list)  # own lines, amounts not yet rounded
    lines: list[Line] = field(default_factory=list)
    tier: str | None = None

    def add(self, kind: str, description: str, amount: Decimal, **kw: object) -> None:
        if amount:
            self.lines.append(Line(kind, description, amount, **kw))  # type: ignore[arg-type]

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def allocate(usage: MonthUsage, policy: Policy) -> Allocation:
    """Statements for every unit with a line, and always for the central bucket."""
    currency = check_currency(usage.currency)
    with localcontext() as ctx:
        ctx.prec = 60
        units = _merge(usage.units)
        central = usage.central
        units.setdefault(central, UnitUsage(central))
        drafts: dict[str, _Draft] = defaultdict(lambda: _Draft(""))

        def draft(code: str) -> _Draft:
            d = drafts[code]
            d.code = code
            return d

        rated = defaultdict(list)
        for rate in policy.activity_rates:
            rated[rate.unit].append(rate)
        _usage_lines(draft(central), units[central], policy, keep_errors=True)
        for code, unit in units.items():
            if code != central:
                _own(draft(code), unit, policy, activity=code in rated, central=draft(central))
        for d in list(drafts.values()):
            _settle(d, currency)
        confidence_gate(units, rated, policy, currency, draft, central)
        _activity(units, rated, policy, currency, draft, central)
        _discounts(units, policy, currency, draft, central)
        _allowance(units, policy, currency, draft, central)
        for pool in policy.pools:
            _pool(pool, units, usage, currency, draft, central)
        _baseline(policy, currency, drafts, draft, central)
        statements = []
        for code in sorted(drafts):
            d = drafts[code]
            if not d.lines and code != central:
                continue
            unit = units.get(code, UnitUsage(code))
            statements.append(
                Statement(
                    unit=code,
                    central=code == central,
                    tier=d.tier,
                    lines=tuple(d.lines),
                    total=d.subtotal + ZERO.quantize(_step(currency)),
                    cost=unit.cost,
                    tokens=unit.tokens,
                    requests=unit.requests,
                    cost_per_outcome=tuple(
                        (name, quantize(unit.cost / count, currency))
                        for name, count in unit.outcomes
                        if count
                    ),
                )
            )
        return Allocation(currency, tuple(statements), quantize(usage.unallocated, currency))


# Steps --------------------------------------------------------------------------------------


def _merge(units: Iterable[UnitUsage]) -> dict[str, UnitUsage]:
    """Units by code, sorted; repeated units and provider/model rows are added up."""
    by_code: dict[str, list[UnitUsage]] = defaultdict(list)
    for unit in units:
        by_code[unit.code].append(unit)
    out = {}
    for code in sorted(by_code):
        parts = by_code[code]
        models: dict[tuple[str, str], list[ModelUsage]] = defaultdict(list)
        services: dict[str, Decimal] = defaultdict(Decimal)
        outcomes: dict[str, int] = defaultdict(int)
        methods: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for part in parts:
            for method, cost, error_cost in part.methods:
                methods[method][0] += cost
                methods[method][1] += error_cost
            for m in part.models:
                models[(m.provider, m.model)].append(m)
            for name, spend in part.services:
                services[name] += spend
            for name, count in part.outcomes:
                outcomes[name] += count
        out[code] = UnitUsage(
            code,
            tuple(
                ModelUsage(
                    provider,
                    model,
                    sum((m.cost for m in ms), ZERO),
                    sum(m.input_tokens for m in ms),
                    sum(m.output_tokens for m in ms),
                    sum(m.requests for m in ms),
                    sum(m.errors for m in ms),
                    sum((m.error_cost for m in ms), ZERO),
                    sum(m.cache_hit_tokens for m in ms),
                )
                for (provider, model), ms in sorted(models.items())
            ),
            tuple(sorted(services.items())),
            tuple(sorted(outcomes.items())),
            sum((p.experiment_cost for p in parts), ZERO),
            tuple((m, *methods[m]) for m in sorted(methods)),
        )
    return out


def _usage_lines(d: _Draft, unit: UnitUsage, policy: Policy, *, keep_errors: bool) -> Decimal:
    """The unit's usage lines (exact); returns the cost it is charged."""
    base = ZERO
    for m in unit.models:
        cost = m.cost if keep_errors else m.cost - m.error_cost
        tokens = m.input_tokens + m.output_tokens
        requests = m.requests if keep_errors else m.requests - m.errors
        quantity = Decimal(requests if policy.charge_basis in ("request", "task") else tokens)
        described = (
            f"{m.provider}/{m.model}: {plural(tokens, 'token')}, {plural(m.requests, 'request')}"
        )
        if not keep_errors and m.errors:
            described += f" ({m.errors:,} failed, charged to the platform)"
        d.exact.append(
            Line(
                "usage",
                described,
                cost,
                quantity,
                (cost / quantity).normalize() if quantity else None,
                f"{m.provider}/{m.model}",
            )
        )
        base += cost
    return base


def _own(d: _Draft, unit: UnitUsage, policy: Policy, *, activity: bool, central: _Draft) -> None:
    to_platform = policy.failed_requests == "platform"
    base = _usage_lines(d, unit, policy, keep_errors=not to_platform)
    if to_platform:
        for m in unit.models:
            if m.error_cost:
                central.exact.append(
                    Line(
                        "usage",
                        f"Failed and retried requests of {unit.code}: {m.provider}/{m.model}, "
                        f"{plural(m.errors, 'request')}",
                        m.error_cost,
                        Decimal(m.errors),
                        None,
                        unit.code,
                    )
                )
    volume = unit.tier_volume  # cache hits excluded: counted, never charged
    d.tier = tier_for(policy.tiers, volume).name if unit.models else None
    if activity:
        return
    if policy.tier_mode == "volume" or volume == 0:
        bands = [(tier_for(policy.tiers, volume), volume)]
        total_tokens = volume or 1
    else:
        bands = graduated_bands(policy.tiers, volume)
        total_tokens = volume
    for tier, tokens in bands:
        share = base * tokens / total_tokens if policy.tier_mode == "graduated" else base
        label = (
            f"{tier.name} band, {tokens:,} tokens" if policy.tier_mode == "graduated" else tier.name
        )
        if tier.markup and share:
            d.exact.append(
                Line(
                    "markup",
                    f"Tier markup: {label} ({_pct(tier.markup)})",
                    share * tier.markup,
                    share,
                    tier.markup,
                    tier.name,
                )
            )
    if policy.fee_percent and base:
        d.exact.append(
            Line(
                "platform_fee",
                f"Platform fee ({_pct(policy.fee_percent)} of usage cost)",
                base * policy.fee_percent,
                base,
                policy.fee_percent,
            )
        )
    if policy.fee_fixed:
        d.exact.append(
            Line(
                "platform_fee",
                "Platform fee (fixed per unit)",
                policy.fee_fixed,
                Decimal(1),
                policy.fee_fixed,
            )
        )


def _settle(d: _Draft, currency: str) -> None:
    """Round the own lines so they sum to their exact total rounded half up: money's largest
    remainder, keyed by the line's position (ties go to the earlier line)."""
    step = _step(currency)
    target = int(quantize(sum((x.amount for x in d.exact), ZERO), currency) / step)
    parts = largest_remainder({i: x.amount / step for i, x in enumerate(d.exact)}, target)
    for i, line in enumerate(d.exact):
        amount = Decimal(parts[i]) * step
        if amount or line.kind == "usage":
            d.lines.append(
                Line(line.kind, line.description, amount, line.quantity, line.unit_price, line.ref)
            )
    d.exact = []


def _activity(units, rated, policy, currency, draft, central) -> None:
    for code in sorted(rated):
        if code == central:
            continue
        unit = units.get(code, UnitUsage(code))
        d = draft(code)
        usage = sum((x.amount for x in d.lines if x.kind == "usage"), ZERO)
        counts = dict(unit.outcomes)
        charged = ZERO
        for rate in rated[code]:
            count = counts.get(rate.outcome, 0)
            amount = quantize(count * rate.rate, currency)
            charged += amount
            d.add(
                "activity",
                f"Activity rate: {count:,} {rate.outcome} at {rate.rate}",
                amount,
                quantity=Decimal(count),
                unit_price=rate.rate,
                ref=rate.outcome,
            )
        d.add(
            "activity",
            "Usage cost replaced by activity rates (difference to the central bucket)",
            -usage,
        )
        draft(central).add(
            "activity",
            f"Activity-rate difference of {code}: usage {usage:,} less {charged:,} charged",
            usage - charged,
            ref=code,
        )


def _discounts(units, policy, currency, draft, central) -> None:
    for discount in policy.discounts:
        amount = quantize(discount.amount, currency)
        weights = {
            code: sum(
                (
                    m.cost
                    for m in unit.models
                    if not discount.models
                    or m.model in discount.models
                    or f"{m.provider}/{m.model}" in discount.models
                ),
                ZERO,
            )
            for code, unit in units.items()
        }
        if not amount:
            continue
        if sum(weights.values(), ZERO) <= 0:
            draft(central).add(
                "discount",
                f"Discount: {discount.name} (no spend on its models)",
                -amount,
                ref=discount.name,
            )
            continue
        for code, share in sorted(distribute(amount, weights, currency).items()):
            draft(code).add(
                "discount",
                f"Discount: {discount.name} ({amount:,} shared by model spend)",
                -share,
                quantity=weights[code],
                ref=discount.name,
            )


def _allowance(units, policy, currency, draft, central) -> None:
    if not policy.allowance_per_unit:
        return
    for code, unit in units.items():
        if code == central or unit.experiment_cost <= 0:
            continue
        credit = quantize(min(policy.allowance_per_unit, unit.experiment_cost), currency)
        draft(code).add(
            "allowance",
            f"Development allowance (up to {policy.allowance_per_unit:,})",
            -credit,
            quantity=unit.experiment_cost,
        )
        draft(central).add("allowance", f"Development allowance of {code}", credit, ref=code)


def _pool(pool: Pool, units, usage: MonthUsage, currency, draft, central) -> None:
    if pool.source == "manual":
        amount = quantize(pool.amount or ZERO, currency)
    elif pool.source == "unallocated":
        amount = quantize(usage.unallocated, currency)
        draft(central).add(
            "pool", f"Pool: {pool.name} (unallocated spend shared out)", -amount, ref=pool.name
        )
    else:
        spend = {c: dict(u.services).get(pool.service, ZERO) for c, u in units.items()}
        spend = {c: s for c, s in spend.items() if s > 0}
        amount = quantize(sum(spend.values(), ZERO), currency)
        for code, part in sorted(distribute(amount, spend, currency).items()):
            draft(code).add(
                "pool",
                f"Pool: {pool.name} (spend of {pool.service} shared out)",
                -part,
                ref=pool.name,
            )
    if amount <= 0:
        return
    if pool.basis == "fixed":
        weights = dict(pool.weights)
    else:
        targets = pool.targets or tuple(c for c in units if c != central)
        weights = {c: _basis(units.get(c), pool.basis) for c in targets}
    if sum(weights.values(), ZERO) <= 0:
        draft(central).add(
            "pool",
            f"Pool: {pool.name} (no {pool.basis} among its targets; kept by the central bucket)",
            amount,
            ref=pool.name,
        )
        return
    for code, share in sorted(distribute(amount, weights, currency).items()):
        draft(code).add(
            "pool",
            f"Pool: {pool.name} (by {pool.basis}, of {amount:,})",
            share,
            quantity=Decimal(weights[code]),
            ref=pool.name,
        )


def _basis(unit: UnitUsage | None, basis: str) -> Decimal:
    if unit is None:
        return ZERO
    return {"spend": unit.cost, "tokens": Decimal(unit.tokens), "requests": Decimal(unit.requests)}[
        basis
    ]


def _baseline(policy, currency, drafts, draft, central) -> None:
    baseline = quantize(policy.central_baseline, currency)
    if not baseline:
        return
    for code in sorted(drafts):
        subtotal = drafts[code].subtotal
        if code == central or subtotal <= 0:
            continue
        credit = min(baseline, subtotal)
        draft(code).add(
            "allowance", f"Central baseline (the first {baseline:,} is paid centrally)", -credit
        )
        draft(central).add("allowance", f"Central baseline of {code}", credit, ref=code)


def _step(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"
