"""Reads of allocation policies."""

from __future__ import annotations

from chargeback.allocation.models import AllocationPolicy
from chargeback.allocation.policy import Policy
from chargeback.calendar import Period
from chargeback.tenancy.models import Organization


def policy_for(organization: Organization, period: Period) -> Policy:
    """The policy in force for the month: the latest version effective on or before its first
    day, or the default policy (the default tiers, no fees) when there is none."""
    version = (
        AllocationPolicy.objects.filter(organization=organization, effective_from__lte=period.first)
        .order_by("-effective_from")
        .first()
    )
    return version.policy if version else Policy()
