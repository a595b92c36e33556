"""Policy versions against issued statements: a version effective from a month whose
statements (or a later month's) are issued can no longer be created or changed, and saving a
version is one transaction with its audit event."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from chargeback.allocation.models import AllocationPolicy
from chargeback.allocation.policy import Policy, policy_doc
from chargeback.audit.log import record
from chargeback.billing.models import BillingPeriod, PeriodState
from chargeback.calendar import Period
from chargeback.tenancy.models import Organization


def last_issued(organization: Organization) -> BillingPeriod | None:
    """The latest month whose statements are issued (in review or closed)."""
    return (
        BillingPeriod.objects.filter(organization=organization)
        .exclude(state=PeriodState.OPEN)
        .order_by("-month")
        .first()
    )


def first_open_month(organization: Organization) -> dt.date | None:
    """The first month after every issued one (None when nothing is issued yet)."""
    issued = last_issued(organization)
    return Period.of(issued.month).next.first if issued else None


def lock_reason(organization: Organization, month: dt.date) -> str | None:
    """Why a version effective from `month` can no longer be created or changed: statements for
    that month or a later one are issued under the policy that was in force. None if it can."""
    issued = (
        BillingPeriod.objects.filter(organization=organization, month__gte=month)
        .exclude(state=PeriodState.OPEN)
        .order_by("-month")
        .first()
    )
    if issued is None:
        return None
    return (
        f"Statements for {issued.label} are already issued, so the policy in force from "
        f"{month:%Y-%m} can no longer change: make a new version from "
        f"{Period.of(issued.month).next.label} (the next open month) instead."
    )


def save_policy(*, organization: Organization, policy: Policy, actor: Any) -> AllocationPolicy:
    """Create or replace the version effective from `policy.effective_from`. Saving a policy
    equal to the stored one changes nothing and writes no audit event. A version whose month
    (or a later one) has issued statements is refused with a ValidationError on
    `effective_from`."""
    if not policy.effective_from:
        raise ValueError("policy.effective_from: required, a month such as 2026-10")
    effective = Period.parse(policy.effective_from).first
    document = policy_doc(policy)
    document.pop("effective_from")
    with transaction.atomic():
        version = (
            AllocationPolicy.objects.select_for_update()
            .filter(organization=organization, effective_from=effective)
            .first()
        )
        if version is not None and version.policy == policy:
            return version
        reason = lock_reason(organization, effective)
        if reason:
            raise ValidationError({"effective_from": reason})
        created = version is None
        before = None if created else version.document
        if created:
            version = AllocationPolicy.objects.create(
                organization=organization, effective_from=effective, document=document
            )
        else:
            version.document = document
            version.save(update_fields=["document", "updated_at"])
        record(
            organization=organization,
            actor=actor,
            action=f"allocationpolicy.{'created' if created else 'updated'}",
            obj=version,
            before=before,
            after=document,
        )
    return version
