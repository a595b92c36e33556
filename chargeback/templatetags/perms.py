from django import template

register = template.Library()


@register.filter(name="can")
def can(membership, perm: str) -> bool:
    """`{% if membership|can:"units.manage" %}`: the same check the view makes."""
    return bool(membership) and membership.has_perm(perm)
