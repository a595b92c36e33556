"""Saving a policy version: one transaction, with its audit event."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from chargeback.allocation.models import AllocationPolicy
from chargeback.allocation.policy import Policy, policy_doc
from chargeback.audit.log import record
from chargeback.tenancy.models import Organization


def save_policy(*, organization: Organization, policy: Policy, actor: Any) -> AllocationPolicy:
    """Create or replace the version effective from `policy.effective_from`. Saving a policy
    equal to the stored one changes nothing and writes no audit event."""
    if not policy.effective_from:
        raise ValueError("policy.effective_from: required, a month such as 2026-10")
    year, month = (int(p) for p in policy.effective_from.split("-"))
    document = policy_doc(policy)
    document.pop("effective_from")
    with transaction.atomic():
        version, created = AllocationPolicy.objects.select_for_update().get_or_create(
            organization=organization,
            effective_from=dt.date(year, month, 1),
            defaults={"document": document},
        )
        if not created and version.policy == policy:
            return version
        before = None if created else version.document
        if not created:
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
