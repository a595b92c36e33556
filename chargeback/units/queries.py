"""Reused reads: the units a membership may see, and the tree in display order."""

from __future__ import annotations

from django.db.models import QuerySet

from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.units.models import BusinessUnit
from chargeback.units.tree import depth_first, descendants


def parent_map(organization: Organization) -> dict[int, int | None]:
    return dict(
        BusinessUnit.objects.filter(organization=organization).values_list("id", "parent_id")
    )


def visible_unit_ids(membership: Membership) -> set[int] | None:
    """None means every unit of the organization; a set limits a team lead to its subtrees."""
    if membership.role != Role.TEAM_LEAD:
        return None
    roots = list(membership.units.values_list("id", flat=True))
    return descendants(parent_map(membership.organization), roots)


def visible_units(membership: Membership) -> QuerySet[BusinessUnit]:
    """The one function every unit-showing query goes through."""
    qs = BusinessUnit.objects.filter(organization=membership.organization)
    ids = visible_unit_ids(membership)
    return qs if ids is None else qs.filter(id__in=ids)


def unit_in_reach(membership: Membership, unit: BusinessUnit) -> bool:
    ids = visible_unit_ids(membership)
    return unit.organization_id == membership.organization_id and (ids is None or unit.pk in ids)


def tree_rows(units: list[BusinessUnit]) -> list[tuple[BusinessUnit, int]]:
    """Units in tree order with their depth, for indented tables."""
    by_id = {u.pk: u for u in units}
    parents = {u.pk: u.parent_id for u in units}
    order = {u.pk: u.code.lower() for u in units}
    return [(by_id[n], d) for n, d in depth_first(parents, order)]
