"""The policy page's preview: the month's statements to date under a proposed policy, next to
the policy in force. Built exactly as `billing.close.draft_statements` builds the drafts (the
same rollup input, engine and late adjustments), so its totals are the drafts' totals."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from chargeback import numbers
from chargeback.allocation.engine import allocate
from chargeback.allocation.policy import Policy
from chargeback.allocation.queries import policy_for
from chargeback.billing.inputs import month_usage
from chargeback.billing.late import late_adjustments
from chargeback.calendar import Period
from chargeback.tenancy.models import Organization

ZERO = Decimal(0)


@dataclass(frozen=True)
class PreviewRow:
    code: str
    name: str
    central: bool
    usage_cost: Decimal  # at full precision
    current: Decimal | None  # None: no statement under that policy
    proposed: Decimal | None
    current_tier: str | None = None
    proposed_tier: str | None = None

    @property
    def change(self) -> Decimal:
        return (self.proposed or ZERO) - (self.current or ZERO)


@dataclass(frozen=True)
class Preview:
    period: Period
    currency: str
    rows: tuple[PreviewRow, ...]
    usage_cost: Decimal
    unallocated: Decimal
    adjustments: Decimal  # late usage of issued months, in both totals

    @property
    def current_total(self) -> Decimal:
        return sum((r.current or ZERO for r in self.rows), ZERO)

    @property
    def proposed_total(self) -> Decimal:
        return sum((r.proposed or ZERO for r in self.rows), ZERO)

    @property
    def change(self) -> Decimal:
        return self.proposed_total - self.current_total


def preview_policy(organization: Organization, proposed: Policy, period: Period) -> Preview:
    """Per unit: usage cost, the statement total under the policy in force for `period` and
    under `proposed`, as draft statements for `period` would show them today."""
    current = policy_for(organization, period)
    months = {}
    for fixed in {current.fixed_fee_for_all, proposed.fixed_fee_for_all}:
        months[fixed] = month_usage(organization, period, fixed_fees=fixed)
    adjustments = late_adjustments(organization, period)
    extra = {code: sum((x.amount for x in lines), ZERO) for code, lines in adjustments.items()}

    def totals(policy: Policy) -> dict[str, tuple[Decimal, str | None]]:
        allocation = allocate(months[policy.fixed_fee_for_all].usage, policy)
        out = {s.unit: (s.total + extra.get(s.unit, ZERO), s.tier) for s in allocation.statements}
        for code, amount in extra.items():
            out.setdefault(code, (amount, None))
        return out

    now, then = totals(current), totals(proposed)
    month = months[current.fixed_fee_for_all]
    costs = {u.code: u.cost for u in month.usage.units}
    rows = []
    for code in sorted(set(now) | set(then)):
        unit = month.units.get(code)
        rows.append(
            PreviewRow(
                code=code,
                name=unit.name if unit else code,
                central=bool(unit and unit.is_central),
                usage_cost=costs.get(code, ZERO),
                current=now[code][0] if code in now else None,
                proposed=then[code][0] if code in then else None,
                current_tier=now[code][1] if code in now else None,
                proposed_tier=then[code][1] if code in then else None,
            )
        )
    return Preview(
        period=period,
        currency=organization.currency,
        rows=tuple(rows),
        usage_cost=month.cost,
        unallocated=month.usage.unallocated,
        adjustments=sum(extra.values(), ZERO),
    )


def preview_warnings(
    preview: Preview, policy: Policy, *, markup_bound: Decimal, ratio_bound: Decimal
) -> list[str]:
    """Sanity warnings for a preview: a markup above `markup_bound` (a fraction, 1 is 100%), and
    a proposed total above `ratio_bound` times the month's usage cost. Typed fractions taken
    as percents ("0.5" for 50%) or the reverse show up here before anyone saves."""
    currency = preview.currency
    out = [
        f"The {t.name} tier's markup is {numbers.percent_rate(t.markup)}, above "
        f"{numbers.percent_rate(markup_bound)}: check it was meant (markups are in percent, "
        '"20" is 20%).'
        for t in policy.tiers
        if t.markup > markup_bound
    ]
    if preview.usage_cost > 0 and preview.proposed_total > preview.usage_cost * ratio_bound:
        times = (preview.proposed_total / preview.usage_cost).quantize(Decimal("0.1"))
        out.append(
            f"The proposed statements total {numbers.money(preview.proposed_total, currency)}, "
            f"{times:,} times the {numbers.money(preview.usage_cost, currency)} of usage "
            f"(more than {numbers.quantity(ratio_bound)} times): check the markups, fees and "
            "pools."
        )
    return out
