"""The true-up: the month's unexplained variance charged to the units proportionally to their
usage spend, as `true_up` lines on the month's drafts (billing asks through
`finality.register_carried_lines`). Never a re-pricing of events."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from chargeback.allocation.figures import Line
from chargeback.audit.log import record
from chargeback.billing.models import Statement, StatementStatus
from chargeback.calendar import Period
from chargeback.money import distribute, quantize
from chargeback.reconciliation.models import TrueUp
from chargeback.reconciliation.queries import reconciliation_of
from chargeback.tenancy.models import Organization
from chargeback.usage.models import DailyUsage

ZERO = Decimal(0)


class TrueUpError(ValueError):
    """The true-up cannot be recorded (no reason, issued statements, nothing unexplained)."""


def true_up_shares(
    amount: Decimal, spend: Mapping[str, Decimal], currency: str
) -> dict[str, Decimal]:
    """`amount` split over the units in proportion to their spend; the parts sum exactly to it
    (largest remainder, ties by unit code). Units without spend get nothing."""
    weights = {code: value for code, value in spend.items() if value > 0}
    if not weights:
        return {}
    return {code: part for code, part in distribute(amount, weights, currency).items() if part}


def _spend(organization: Organization, period: Period) -> dict[str, Decimal]:
    rows = (
        DailyUsage.objects.filter(
            organization=organization, day__gte=period.first, day__lte=period.last
        )
        .values_list("unit__code")
        .annotate(cost=Sum("cost"))
        .order_by()
    )
    return {code: cost or ZERO for code, cost in rows}


def record_true_up(
    *, organization: Organization, period: Period, actor: object, reason: str
) -> TrueUp:
    """Charge the month's unexplained variance on its next drafts (replacing an earlier
    true-up of the month). Refused once the month's statements are issued, or without a reason."""
    if not reason.strip():
        raise TrueUpError("reason: a true-up needs a written reason")
    issued = Statement.objects.filter(
        organization=organization, period__month=period.first
    ).exclude(status=StatementStatus.DRAFT)
    if issued.exists():
        raise TrueUpError(f"period: {period.label}'s statements are issued already")
    amount = quantize(reconciliation_of(organization, period).unexplained, organization.currency)
    if not amount:
        raise TrueUpError(f"period: {period.label} has no unexplained variance to true up")
    with transaction.atomic():
        before = TrueUp.objects.filter(organization=organization, month=period.first).first()
        true_up, _ = TrueUp.objects.update_or_create(
            organization=organization,
            month=period.first,
            defaults={"amount": amount, "basis": "spend", "reason": reason.strip()[:500],
                      "created_by": str(getattr(actor, "email", "") or actor)[:254]},
        )  # fmt: skip
        record(
            organization=organization,
            actor=actor,
            action="reconciliation.true_up",
            obj=true_up,
            before={"amount": str(before.amount)} if before else None,
            after={"period": period.label, "amount": str(amount), "basis": "spend",
                   "reason": true_up.reason},
        )  # fmt: skip
    return true_up


def carried_true_up(organization: Organization, period: Period) -> dict[str, list[Line]]:
    """The `true_up` lines of `period`'s drafts, by unit code."""
    true_up = TrueUp.objects.filter(organization=organization, month=period.first).first()
    if true_up is None:
        return {}
    shares = true_up_shares(true_up.amount, _spend(organization, period), organization.currency)
    return {
        code: [
            Line(
                "true_up",
                f"Reconciliation true-up for {period.label}: unexplained variance against the "
                "provider invoices, by share of usage spend",
                amount,
                ref=f"true_up:{period.label}",
            )
        ]
        for code, amount in sorted(shares.items())
    }
