"""Operations on the organisation structure. Each runs in one transaction and writes its
audit event inside it. Validation lives in the models' clean() (shared with forms and the
config importer)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from chargeback.audit.log import record, snapshot
from chargeback.units.models import BusinessUnit


def save_entity(*, actor: Any, obj: models.Model, validate: bool = True) -> models.Model:
    """Create or update a structure row (unit, service, key, account, rule) with an audit event."""
    with transaction.atomic():
        before = None
        if obj.pk:
            before = snapshot(type(obj).objects.with_scopes_disabled().get(pk=obj.pk))
        if validate:
            obj.full_clean(exclude=["organization"])
        if isinstance(obj, BusinessUnit) and obj.is_central:
            _take_over_central(obj, actor=actor)
        obj.save()
        after = snapshot(obj)
        if before != after:
            verb = "updated" if before else "created"
            record(
                organization=obj.organization,
                actor=actor,
                action=f"{obj._meta.model_name}.{verb}",
                obj=obj,
                before=before,
                after=after,
            )
        return obj


def _take_over_central(unit: BusinessUnit, *, actor: Any) -> None:
    """Flagging a unit central moves the flag from the previous central unit (audited too)."""
    previous = BusinessUnit.objects.with_scopes_disabled().filter(
        organization_id=unit.organization_id, is_central=True
    )
    for old in previous.exclude(pk=unit.pk):
        before = snapshot(old)
        old.is_central = False
        old.save(update_fields=["is_central", "updated_at"])
        record(
            organization=unit.organization,
            actor=actor,
            action="businessunit.updated",
            obj=old,
            before=before,
            after=snapshot(old),
        )


def set_archived(*, actor: Any, obj: models.Model, archived: bool) -> models.Model:
    """Archive or restore a row. A unit with active children, or the central unit, refuses."""
    if isinstance(obj, BusinessUnit) and archived:
        if obj.is_central:
            raise ValidationError({"archived": "The central bucket cannot be archived."})
        active = obj.children.filter(archived=False).values_list("code", flat=True)
        if active:
            raise ValidationError(
                {"archived": "Move or archive its active child units first: " + ", ".join(active)}
            )
    obj.archived = archived
    return save_entity(actor=actor, obj=obj, validate=not archived)


def move_rule(*, actor: Any, rule: models.Model, direction: int) -> None:
    """Swap a rule with its neighbour (direction -1 up, +1 down); positions are renumbered."""
    with transaction.atomic():
        rules = list(
            type(rule).objects.filter(organization=rule.organization).order_by("position", "id")
        )
        index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
        target = index + direction
        if not 0 <= target < len(rules):
            return
        before = [r.pk for r in rules]
        rules[index], rules[target] = rules[target], rules[index]
        for position, r in enumerate(rules, start=1):
            if r.position != position:
                type(rule).objects.filter(pk=r.pk).update(position=position)
        record(
            organization=rule.organization,
            actor=actor,
            action="ownershiprule.reordered",
            obj=rule,
            before={"order": before},
            after={"order": [r.pk for r in rules]},
        )
