"""Approving a model for a unit's production traffic, and revoking it: one transaction each,
with its audit event. Bad input is a ValidationError naming the field."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from chargeback.audit.log import record
from chargeback.gateway.models import ModelApproval
from chargeback.pricing.aliases import normalise, normalise_provider
from chargeback.tenancy.models import Organization
from chargeback.units.models import BusinessUnit


def _label(actor: Any) -> str:
    return (getattr(actor, "email", "") or getattr(actor, "username", "") or str(actor))[:254]


def approve_model(
    *, organization: Organization, unit: BusinessUnit, provider: str, model: str, actor: Any
) -> ModelApproval:
    """Approve `provider/model` (normalised as ingestion does) for `unit`."""
    if unit.organization_id != organization.pk:
        raise ValidationError({"unit": "belongs to another organisation"})
    if unit.archived:
        raise ValidationError({"unit": f"{unit.code} is archived"})
    if not (provider or "").strip():
        raise ValidationError({"provider": "required"})
    if not (model or "").strip():
        raise ValidationError({"model": "required"})
    p, m = normalise(normalise_provider(provider), model)
    approval = ModelApproval(organization=organization, unit=unit, provider=p, model=m,
                             approved_by=_label(actor))  # fmt: skip
    try:
        with transaction.atomic():
            approval.save()
            record(organization=organization, actor=actor, action="gateway.model_approved",
                   obj=approval, after={"unit": unit.code, "provider": p, "model": m})  # fmt: skip
    except IntegrityError:
        raise ValidationError({"model": f"{p}/{m} is already approved for {unit.code}"}) from None
    return approval


def revoke_approval(*, approval: ModelApproval, actor: Any) -> None:
    with transaction.atomic():
        before = {"unit": approval.unit.code, "provider": approval.provider,
                  "model": approval.model, "approved_by": approval.approved_by}  # fmt: skip
        record(organization=approval.organization, actor=actor, action="gateway.model_revoked",
               obj=approval, before=before)  # fmt: skip
        approval.delete()
