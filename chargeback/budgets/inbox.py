"""The in-app channel. Finance and admins are told about every alert; a team lead about the
alerts of its units (and below); anyone about the alerts of the units they own (the unit's
owner email). When an alert fires, each of them gets an unread AlertRead row, so the bell in the
top bar is one count; the alerts page lists what the membership may see, read or not."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone

from chargeback.budgets.models import Alert, AlertRead
from chargeback.notices.models import Notice
from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.units.models import BusinessUnit
from chargeback.units.queries import parent_map, visible_unit_ids
from chargeback.units.tree import descendants


def alerts_for(membership: Membership) -> QuerySet[Alert]:
    org = membership.organization
    qs = Alert.objects.filter(organization=org).select_related("unit")
    if membership.role in (Role.ADMIN, Role.FINANCE):
        return qs
    email = membership.user.email or membership.user.username
    ids = set(
        BusinessUnit.objects.filter(organization=org, owner_email__iexact=email).values_list(
            "id", flat=True
        )
    )
    if membership.role == Role.TEAM_LEAD:
        ids |= visible_unit_ids(membership) or set()
    return qs.filter(unit_id__in=ids)


def unread_count(membership: Membership) -> int:
    """The bell: one query."""
    return AlertRead.objects.filter(
        organization_id=membership.organization_id,
        user_id=membership.user_id,
        read_at__isnull=True,
    ).count()


def unread_counts(membership: Membership) -> tuple[int, int]:
    """The bell, in one query: (unread budget alerts, unread notices)."""
    mine = {"organization_id": OuterRef("organization_id"), "user_id": OuterRef("user_id")}

    def unread(model) -> Subquery:
        rows = model.objects.filter(read_at__isnull=True, **mine).order_by()
        return Subquery(rows.values("user_id").annotate(n=Count("id")).values("n")[:1])

    row = (
        Membership.objects.filter(pk=membership.pk)
        .annotate(alerts=unread(AlertRead), notices=unread(Notice))
        .values("alerts", "notices")
        .first()
    )
    return (row["alerts"] or 0, row["notices"] or 0) if row else (0, 0)


def read_ids(membership: Membership) -> set[int]:
    return set(
        AlertRead.objects.filter(
            organization=membership.organization, user=membership.user, read_at__isnull=False
        ).values_list("alert_id", flat=True)
    )


def notify(organization: Organization, alert: Alert) -> int:
    """An unread copy of `alert` for each member told about it; returns how many."""
    parents = parent_map(organization)
    owner = (alert.unit.owner_email or "").lower()
    members = Membership.objects.filter(organization=organization).select_related("user")
    users = []
    for m in members.prefetch_related("units"):
        email = (m.user.email or m.user.username).lower()
        if m.role in (Role.ADMIN, Role.FINANCE) or (owner and email == owner):
            users.append(m.user_id)
        elif m.role == Role.TEAM_LEAD:
            reach = descendants(parents, [u.pk for u in m.units.all()])
            if alert.unit_id in reach:
                users.append(m.user_id)
    AlertRead.objects.bulk_create(
        [AlertRead(organization=organization, user_id=u, alert=alert) for u in users],
        ignore_conflicts=True,
    )
    return len(users)


def mark_read(membership: Membership, *, alert_ids: list[int] | None = None) -> int:
    """Mark the given alerts (default: all the membership sees) read; returns how many."""
    alerts = alerts_for(membership)
    if alert_ids is not None:
        alerts = alerts.filter(pk__in=alert_ids)
    ids = set(alerts.values_list("pk", flat=True)) - read_ids(membership)
    now = timezone.now()
    org, user = membership.organization, membership.user
    AlertRead.objects.filter(organization=org, user=user, alert_id__in=ids).update(read_at=now)
    AlertRead.objects.bulk_create(
        [AlertRead(organization=org, user=user, alert_id=pk, read_at=now) for pk in ids],
        ignore_conflicts=True,  # those that had an unread copy were updated above
    )
    return len(ids)
