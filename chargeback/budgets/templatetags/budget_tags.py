"""`{% alert_bell %}` (the top bar's unread alert count) and `{% unit_budget unit %}` (a unit's
budget and forecast card on its page)."""

from __future__ import annotations

from django import template
from django_scopes.exceptions import ScopeError

from chargeback.budgets import inbox
from chargeback.budgets.status import budget_statuses
from chargeback.units.queries import unit_in_reach

register = template.Library()


@register.inclusion_tag("budgets/bell.html", takes_context=True)
def alert_bell(context) -> dict:
    membership = context.get("membership")
    if membership is None or not membership.has_perm("alerts.view"):
        return {"show": False}
    try:
        count = inbox.unread_count(membership)
    except ScopeError:  # a page rendered outside the organisation's scope
        return {"show": False}
    return {"show": True, "count": count, "org": membership.organization}


@register.inclusion_tag("budgets/unit_budget.html", takes_context=True)
def unit_budget(context, unit) -> dict:
    membership = context.get("membership")
    if membership is None or not membership.has_perm("budgets.view"):
        return {"show": False}
    if not unit_in_reach(membership, unit):
        return {"show": False}
    statuses = budget_statuses(membership.organization, unit_ids={unit.pk})
    return {
        "show": True,
        "s": statuses[0] if statuses else None,
        "unit": unit,
        "org": membership.organization,
        "can_manage": membership.has_perm("budgets.manage"),
    }
