"""The one write path for audit events. Call it inside the operation's transaction."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from django.db import models
from django.db.models.fields.files import FieldFile
from django.forms.models import model_to_dict

from chargeback.audit.models import AuditEvent
from chargeback.sql import Insert
from chargeback.tenancy.models import Organization

EVENT = Insert(AuditEvent)  # append-only: the model's save() would only check it is new


def snapshot(obj: models.Model | None) -> dict[str, Any] | None:
    """A JSON-safe dict of a model's concrete fields (foreign keys as ids, m2m as id lists).
    `auto_now` timestamps are left out: they change on every save, so a save that changes
    nothing would otherwise look like a change."""
    if obj is None:
        return None
    data = model_to_dict(obj)
    for field in obj._meta.concrete_fields:
        if getattr(field, "auto_now", False):
            data.pop(field.name, None)
        elif field.name not in data:
            data[field.name] = getattr(obj, field.attname)
    return {k: _jsonable(v) for k, v in data.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, FieldFile):
        return value.name or ""
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def changed(before: dict | None, after: dict | None) -> bool:
    return before != after


def record(
    *,
    organization: Organization,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
    object_type: str = "",
    object_repr: str = "",
    wait: bool = True,
) -> AuditEvent:
    """Write one audit event. `actor` is a user, or a string naming a command or system job.
    `wait=False`: sent without reading its id back (`chargeback.sql.send`, for hot paths)."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    label = (
        getattr(actor, "email", "") or getattr(actor, "username", "")
        if user
        else str(actor or "system")
    )
    return EVENT.save(AuditEvent(
        organization=organization,
        actor=user,
        actor_label=label[:254],
        action=action,
        object_type=object_type or (obj._meta.label_lower if obj is not None else ""),
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=(object_repr or (str(obj) if obj is not None else ""))[:300],
        before=_jsonable(before),
        after=_jsonable(after),
    ), wait=wait)  # fmt: skip
