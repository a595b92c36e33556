"""Who is told about a unit (its owner and the team leads whose reach includes it) and who
answers for finance (finance members, and admins)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.units.models import BusinessUnit
from chargeback.units.queries import parent_map
from chargeback.units.tree import descendants

People = tuple[list[AbstractBaseUser], list[str]]


def _email(m: Membership) -> str:
    return (m.user.email or m.user.username).lower()


def people_of_units(organization: Organization, units: Iterable[BusinessUnit]) -> dict[int, People]:
    """For each of `units` (by id): the members told about it (its owner, its team leads) and,
    when the owner is not a member, the owner's address to mail. Three queries (the unit tree,
    the members, their units) however many units there are."""
    parents = parent_map(organization)
    members = list(
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .prefetch_related("units")
    )
    reach = {
        m.pk: descendants(parents, [u.pk for u in m.units.all()])
        for m in members
        if m.role == Role.TEAM_LEAD
    }
    people: dict[int, People] = {}
    for unit in units:
        owner = (unit.owner_email or "").lower()
        users, owner_is_member = [], False
        for m in members:
            if owner and _email(m) == owner:
                users.append(m.user)
                owner_is_member = True
            elif unit.pk in reach.get(m.pk, ()):
                users.append(m.user)
        people[unit.pk] = (users, [] if owner_is_member or not owner else [unit.owner_email])
    return people


def finance_people(organization: Organization) -> list[AbstractBaseUser]:
    members = Membership.objects.filter(
        organization=organization, role__in=(Role.FINANCE, Role.ADMIN)
    ).select_related("user")
    return [m.user for m in members]
