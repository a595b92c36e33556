"""`{% alert_bell %}` (the top bar's unread count: budget alerts and notices) and `{% unit_budget unit %}` (a unit's
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
    """Unread budget alerts plus unread notices; it opens the page with most of them unread."""
    membership = context.get("membership")
    if membership is None:
        return {"show": False}
    try:
        alerts, told = inbox.unread_counts(membership)
        alerts = alerts if membership.has_perm("alerts.view") else 0
    except ScopeError:  # a page rendered outside the organisation's scope
        return {"show": False}
    page = "notices:notice-list"
    if membership.has_perm("alerts.view") and (alerts > told or not told):
        page = "budgets:alert-list"
    return {
        "show": True,
        "count": alerts + told,
        "alerts": alerts,
        "notices": told,
        "page": page,
        "org": membership.organization,
    }


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
