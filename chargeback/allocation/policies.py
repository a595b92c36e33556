"""Saving a policy version: one transaction, with its audit event; and the checks that need the
organisation (unit codes that exist and are not archived, services that exist, months whose
statements are already issued), which the pure parser in policy.py cannot make."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from chargeback.allocation.models import AllocationPolicy
from chargeback.allocation.policy import Policy, PolicyError, parse_policy, policy_doc
from chargeback.audit.log import record
from chargeback.billing.models import BillingPeriod, PeriodState
from chargeback.calendar import Period
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit, Service


def check_policy(organization: Organization, data: Any, *, path: str = "policy") -> Policy:
    """Parse a policy document (with its `effective_from`) against the organisation: every
    unit it names must exist and not be archived, every `service:<name>` pool source must be
    a service of the organisation. Raises PolicyError with every problem, path-named."""
    units = dict(
        BusinessUnit.objects.filter(organization=organization).values_list("code", "archived")
    )
    errors: list[str] = []
    policy = None
    try:
        policy = parse_policy(data, path=path, units=units, require_month=True)
    except PolicyError as exc:
        errors += exc.errors
    services = set(Service.objects.filter(organization=organization).values_list("name", flat=True))
    pools = data.get("pools") if isinstance(data, dict) else None
    for i, pool in enumerate(pools if isinstance(pools, list) else []):
        source = pool.get("source") if isinstance(pool, dict) else None
        if isinstance(source, str) and source.startswith("service:"):
            name = source[len("service:") :].strip()
            if name and name not in services:
                errors.append(f'{path}.pools[{i}].source: unknown service "{name}"')
    if errors:
        raise PolicyError(errors)
    return policy  # type: ignore[return-value]


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
