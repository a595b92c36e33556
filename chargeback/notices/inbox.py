"""A member's notices: the unread count (the bell) and marking them read."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from chargeback.notices.models import Notice
from chargeback.tenancy.models import Membership


def notices_for(membership: Membership) -> QuerySet[Notice]:
    return Notice.objects.filter(organization=membership.organization, user_id=membership.user_id)


def unread_count(membership: Membership) -> int:
    return notices_for(membership).filter(read_at__isnull=True).count()


def mark_read(membership: Membership, *, ids: list[int] | None = None) -> int:
    qs = notices_for(membership).filter(read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
