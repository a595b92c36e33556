"""Reused reads: the units a membership may see, and the tree in display order."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.units.attribution import Directory, Rule
from chargeback.units.models import (
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)
from chargeback.units.tree import depth_first, descendants


def parent_map(organization: Organization) -> dict[int, int | None]:
    return dict(
        BusinessUnit.objects.filter(organization=organization).values_list("id", "parent_id")
    )


def visible_unit_ids(membership: Membership) -> set[int] | None:
    """None means every unit of the organization; a set limits a team lead to its subtrees."""
    if membership.role != Role.TEAM_LEAD:
        return None
    led = Membership.units.through.objects.filter(
        membership_id=membership.pk, businessunit_id=OuterRef("pk")
    )
    rows = (
        BusinessUnit.objects.filter(organization=membership.organization)
        .annotate(led=Exists(led))
        .values_list("id", "parent_id", "led")
    )  # the tree and the units led, in one query
    parents, roots = {}, []
    for pk, parent, is_led in rows:
        parents[pk] = parent
        if is_led:
            roots.append(pk)
    return descendants(parents, roots)


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


def attribution_directory(organization: Organization):
    """The organisation's structure as the plain maps attribution needs (active rows only)."""
    units = list(
        BusinessUnit.objects.filter(organization=organization).values_list(
            "id", "code", "name", "is_central", "archived"
        )
    )
    central = next(u[0] for u in units if u[3])
    active = [u for u in units if not u[4]]
    by_name = {name.lower(): uid for uid, _c, name, _x, _a in active}
    by_name.update({code.lower(): uid for uid, code, _n, _x, _a in active})
    keys = GatewayKey.objects.filter(organization=organization, archived=False).select_related(
        "service"
    )
    return Directory(
        central_id=central,
        units_by_code={code: uid for uid, code, _n, _x, _a in active},
        units_by_name=by_name,
        gateway_keys={k.key_id: k.unit_id for k in keys},
        gateway_key_services={k.key_id: k.service.name for k in keys if k.service_id},
        provider_accounts={
            (a.provider, a.account): a.unit_id
            for a in ProviderAccount.objects.filter(organization=organization)
        },
        services={
            s.name.lower(): s.unit_id
            for s in Service.objects.filter(organization=organization, archived=False)
        },
        rules=[
            Rule(match=r.match, unit_id=r.unit_id)
            for r in OwnershipRule.objects.filter(
                organization=organization, archived=False
            ).order_by("position", "id")
        ],
    )
