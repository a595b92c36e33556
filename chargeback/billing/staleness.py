"""Whether the drafts are current: fingerprints of what a draft reads, stored with it, and the
reasons drafts no longer match what they would be if generated now (issuing refuses them)."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from chargeback.allocation.engine import Line
from chargeback.allocation.policy import policy_doc
from chargeback.allocation.queries import policy_for
from chargeback.billing import finality
from chargeback.billing.inputs import month_totals
from chargeback.billing.late import late_adjustments
from chargeback.billing.models import BillingPeriod, OutcomeCount
from chargeback.calendar import Period
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit


def _digest(value: object) -> str:
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def draft_inputs(organization: Organization, period: Period) -> dict[str, str]:
    """Fingerprints of what a draft reads besides the usage rollup and the policy: the month's
    outcome counts and the units (codes, modes, central bucket, archived)."""
    outcomes = sorted(
        OutcomeCount.objects.filter(organization=organization, month=period.first).values_list(
            "unit_id", "outcome", "count"
        )
    )
    units = sorted(
        BusinessUnit.objects.filter(organization=organization).values_list(
            "code", "billing_mode", "is_central", "archived"
        )
    )
    return {"outcomes": _digest(outcomes), "units": _digest(units)}


def late_digest(adjustments: dict[str, list[Line]], totals: dict[str, tuple[Decimal, int]]) -> str:
    """The adjustment lines and the earlier months' totals they were computed from: a month
    whose late usage moved at all changes it, even when no unit's amount changes."""
    lines = sorted(
        (code, line.ref, str(line.amount)) for code, ls in adjustments.items() for line in ls
    )
    return _digest([lines, sorted((k, str(c), r) for k, (c, r) in totals.items())])


def carried_digest(carried: dict[str, list[Line]]) -> str:
    """The lines a draft carries from outside the month (a resolved dispute's credit or
    adjustment, `finality.carried_lines`): a dispute resolved since the draft changes it."""
    return _digest(
        sorted(
            (code, line.kind, line.ref, str(line.amount))
            for code, ls in carried.items()
            for line in ls
        )
    )


def _late_now(organization: Organization, period: Period) -> str:
    totals: dict[str, tuple[Decimal, int]] = {}
    return late_digest(late_adjustments(organization, period, totals), totals)


def stale_reasons(
    organization: Organization,
    billing: BillingPeriod,
    period: Period,
    *,
    usage: bool = True,
    late: bool = False,
) -> list[str]:
    """Why the drafts no longer match what they would be if generated now (empty when they
    are current). `usage` checks the month's rollup totals; `late` also re-checks the
    adjustments for earlier months, which re-runs the earlier months that changed (issuing
    and its confirmation page do; the close page does not)."""
    if "late" not in billing.inputs:
        return ["the drafts were generated before these checks existed"]
    reasons = []
    cost, requests = month_totals(organization, period) if usage else (None, None)
    if usage and (cost != billing.usage_cost or requests != billing.requests):
        delta = requests - billing.requests
        reasons.append(
            f"the month's usage changed ({delta:+,} request{'' if abs(delta) == 1 else 's'})"
        )
    if billing.policy != policy_doc(policy_for(organization, period)):
        reasons.append("the allocation policy in force for the month changed")
    now = draft_inputs(organization, period)
    if billing.inputs.get("outcomes") != now["outcomes"]:
        reasons.append("the month's outcome counts changed")
    if billing.inputs.get("units") != now["units"]:
        reasons.append("business units were added, archived or changed billing mode")
    carried = carried_digest(finality.carried_lines(organization, period))
    if billing.inputs.get("carried", carried_digest({})) != carried:
        reasons.append(
            "a dispute was resolved with credits or adjustments this month's statements carry"
        )
    if late and billing.inputs["late"] != _late_now(organization, period):
        reasons.append(
            "the adjustments for earlier months changed (late usage arrived, or another "
            "month carrying them was issued)"
        )
    return reasons
