"""Who is told about a unit (its owner and the team leads whose reach includes it) and who
answers for finance (finance members, and admins)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.units.models import BusinessUnit
from chargeback.units.queries import parent_map
from chargeback.units.tree import descendants


def _email(m: Membership) -> str:
    return (m.user.email or m.user.username).lower()


def unit_people(
    organization: Organization, unit: BusinessUnit, *, parents: dict | None = None
) -> tuple[list[AbstractBaseUser], list[str]]:
    """The members told about `unit` (its owner, its team leads) and, when the owner is not a
    member, the owner's address to mail."""
    parents = parents if parents is not None else parent_map(organization)
    owner = (unit.owner_email or "").lower()
    users, owner_is_member = [], False
    members = (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .prefetch_related("units")
    )
    for m in members:
        if owner and _email(m) == owner:
            users.append(m.user)
            owner_is_member = True
        elif m.role == Role.TEAM_LEAD and unit.pk in descendants(
            parents, [u.pk for u in m.units.all()]
        ):
            users.append(m.user)
    return users, ([] if owner_is_member or not owner else [unit.owner_email])


def finance_people(organization: Organization) -> list[AbstractBaseUser]:
    members = Membership.objects.filter(
        organization=organization, role__in=(Role.FINANCE, Role.ADMIN)
    ).select_related("user")
    return [m.user for m in members]
