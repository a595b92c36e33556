"""Ingestion keys: `cbk_<prefix>_<secret>`. Only a SHA-256 of the whole key is stored (the key
has 256 bits of entropy, so a fast hash is safe); lookup is by the public prefix and the
comparison is constant-time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from chargeback.audit.log import record
from chargeback.tenancy.models import Organization
from chargeback.usage.models import IngestionKey

PREFIX = "cbk_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(*, organization: Organization, name: str, actor: Any) -> tuple[IngestionKey, str]:
    """Create a key; the returned secret is shown once and never stored."""
    prefix = secrets.token_hex(6)
    secret = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = IngestionKey.objects.create(
            organization=organization, name=name[:200], prefix=prefix, hashed=_hash(secret),
            created_by=(getattr(actor, "email", "") or str(actor))[:254],
        )  # fmt: skip
        record(
            organization=organization,
            actor=actor,
            action="ingestionkey.created",
            obj=key,
            after={"name": key.name, "prefix": prefix},
        )
    return key, secret


def revoke_key(*, key: IngestionKey, actor: Any) -> IngestionKey:
    with transaction.atomic():
        updated = IngestionKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if updated:
            record(
                organization=key.organization,
                actor=actor,
                action="ingestionkey.revoked",
                obj=key,
                before={"active": True},
                after={"active": False},
            )
    key.refresh_from_db()
    return key


def check_key(presented: str) -> tuple[IngestionKey | None, str]:
    """(key, "") when valid; (None, reason) otherwise."""
    if not presented.startswith(PREFIX) or presented.count("_") < 2:
        return None, "malformed key"
    prefix = presented[len(PREFIX) :].split("_", 1)[0]
    with scopes_disabled():
        key = IngestionKey.objects.select_related("organization").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.hashed, _hash(presented)):
        return None, "unknown key"
    if key.revoked_at is not None:
        return None, "this key was revoked"
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        with scopes_disabled():
            IngestionKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key, ""
