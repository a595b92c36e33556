"""The in-app channel. Finance and admins are told about every alert; a team lead about the
alerts of its units (and below); anyone about the alerts of the units they own (the unit's
owner email). When an alert fires, each of them gets an unread AlertRead row. The alerts page
lists what the membership may see (`alerts_seen`), read or not, and the bell counts the unread
copies of those alerts only: a unit that left a team lead's reach leaves its count."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from chargeback.budgets.models import Alert, AlertRead
from chargeback.notices.models import Notice
from chargeback.notices.recipients import finance_people, people_of_units
from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.units.queries import visible_unit_ids


def alerts_seen(membership: Membership, unit: str = "unit") -> Q | None:
    """Which alerts `membership` may see, as a filter on the alert's `unit` field (None: all of
    them): the units it owns and, for a team lead, the units in its reach. The alerts page and
    the bell both go through it, so the bell counts only what the page shows: a team lead who
    no longer leads a unit no longer counts its alerts."""
    if membership.role in (Role.ADMIN, Role.FINANCE):
        return None
    email = membership.user.email or membership.user.username
    seen = Q(**{f"{unit}__owner_email__iexact": email})
    if membership.role == Role.TEAM_LEAD:
        seen |= Q(**{f"{unit}__in": visible_unit_ids(membership) or set()})
    return seen


def alerts_for(membership: Membership) -> QuerySet[Alert]:
    qs = Alert.objects.filter(organization=membership.organization).select_related("unit")
    seen = alerts_seen(membership)
    return qs if seen is None else qs.filter(seen)


def unread_counts(membership: Membership) -> tuple[int, int]:
    """The bell: (unread budget alerts the membership may see, unread notices) in one query,
    after a team lead's reach is read."""
    mine = {"organization_id": OuterRef("organization_id"), "user_id": OuterRef("user_id")}
    seen = alerts_seen(membership, "alert__unit")
    only = () if seen is None else (seen,)

    def unread(model, *only: Q) -> Subquery:
        rows = model.objects.filter(*only, read_at__isnull=True, **mine).order_by()
        return Subquery(rows.values("user_id").annotate(n=Count("id")).values("n")[:1])

    row = (
        Membership.objects.filter(pk=membership.pk)
        .annotate(alerts=unread(AlertRead, *only), notices=unread(Notice))
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
    """An unread copy of `alert` for each member told about it (finance and admins, and the
    unit's people: its owner and team leads); returns how many."""
    unit_users, _ = people_of_units(organization, [alert.unit])[alert.unit_id]
    users = {u.pk for u in [*finance_people(organization), *unit_users]}
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
