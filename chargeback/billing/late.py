"""Late usage: usage that reached an earlier, already issued month after its statements were
issued becomes adjustment lines in the month being drafted, labelled with the month they
correct. The policy page's preview adds them as the drafts do."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum

from chargeback.allocation.engine import Line, allocate
from chargeback.allocation.policy import Policy, parse_policy
from chargeback.billing.inputs import month_totals, month_usage
from chargeback.billing.models import (
    BillingPeriod,
    PeriodState,
    Statement,
    StatementLine,
    StatementStatus,
)
from chargeback.calendar import Period
from chargeback.money import quantize
from chargeback.tenancy.models import Organization

ZERO = Decimal(0)


def late_adjustments(
    organization: Organization,
    period: Period,
    totals_seen: dict[str, tuple[Decimal, int]] | None = None,
) -> dict[str, list[Line]]:
    """Adjustment lines for usage that reached earlier, already issued months after their
    statements were issued: the month is re-run with the policy it was issued under, and each
    unit's difference (less adjustments already carried) becomes a line labelled with it.

    `totals_seen` receives the rollup totals each re-run month was read with: what the
    adjustments account for, and so what its issue records as reconciled."""
    out: dict[str, list[Line]] = defaultdict(list)
    issued = BillingPeriod.objects.filter(
        organization=organization,
        month__lt=period.first,
        state__in=[PeriodState.IN_REVIEW, PeriodState.CLOSED],
    ).order_by("month")
    currency = organization.currency
    for earlier in issued:
        earlier_period = Period.parse(earlier.label)
        totals = month_totals(organization, earlier_period)
        if totals in {
            (earlier.usage_cost, earlier.requests),
            (earlier.reconciled_cost, earlier.reconciled_requests),
        }:
            continue
        if totals_seen is not None:
            totals_seen[earlier.label] = totals
        billed: dict[str, Decimal] = defaultdict(Decimal)
        for code, amount in (
            StatementLine.objects.filter(statement__period=earlier)
            .exclude(kind="adjustment", month__gt="")
            .values_list("statement__unit__code")
            .annotate(Sum("amount"))
            .order_by()
        ):
            billed[code] += amount
        # The month is re-run as it was issued: the units it billed and its central bucket,
        # whatever has been archived, added or moved since.
        central = (
            Statement.objects.filter(organization=organization, period=earlier, central=True)
            .values_list("unit__code", flat=True)
            .first()
        )
        policy = parse_policy(earlier.policy) if earlier.policy else Policy()
        month = month_usage(
            organization,
            earlier_period,
            fixed_fees=policy.fixed_fee_for_all,
            members=frozenset(billed),
            central=central,
        )
        rerun = {s.unit: s.total for s in allocate(month.usage, policy).statements}
        for code, amount in (
            StatementLine.objects.filter(
                organization=organization,
                kind="adjustment",
                month=earlier.label,
                statement__period__month__gt=earlier.month,
            )
            .exclude(statement__status=StatementStatus.DRAFT)
            .values_list("statement__unit__code")
            .annotate(Sum("amount"))
            .order_by()
        ):
            billed[code] += amount
        for code in sorted(set(rerun) | set(billed)):
            delta = quantize(rerun.get(code, ZERO) - billed.get(code, ZERO), currency)
            if delta:
                out[code].append(
                    Line(
                        "adjustment",
                        f"Adjustment for {earlier.label}: usage that arrived after its "
                        "statements were issued",
                        delta,
                        ref=f"month:{earlier.label}",
                    )
                )
    return out
