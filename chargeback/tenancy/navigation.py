"""The navigation shows only what the membership's role may open, with the counts the apps
above register for their items (tenancy may not import them): `register_badge("disputes:
dispute-list", fn)`, where `fn(membership)` gives `(label or None, count)`."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.urls import reverse
from django_scopes.exceptions import ScopeError

from chargeback.tenancy.models import Membership

# (section, label, url name, permission)
ITEMS: list[tuple[str, str, str, str]] = [
    ("Spend", "Overview", "dashboards:overview", "org.view"),
    ("Spend", "Budgets", "budgets:budget-list", "budgets.view"),
    ("Spend", "Alerts", "budgets:alert-list", "alerts.view"),
    ("Billing", "Statements", "billing:statement-list", "statements.view"),
    ("Billing", "Disputes", "disputes:dispute-list", "statements.view"),
    ("Billing", "Month-end close", "billing:period-list", "billing.close"),
    ("Billing", "Provider invoices", "reconciliation:invoice-list", "billing.close"),
    ("Billing", "Reconciliation", "reconciliation:reconciliation", "billing.close"),
    ("Billing", "Chargeback readiness", "reconciliation:readiness", "billing.close"),
    ("Billing", "Wallets", "wallets:wallet-list", "wallets.view"),
    ("Billing", "Gateway decisions", "gateway:decision-list", "wallets.view"),
    ("Billing", "Outcome counts", "billing:outcome-list", "outcomes.manage"),
    ("Billing", "Allocation policy", "allocation:policy-list", "policy.view"),
    ("Structure", "Business units", "units:unit-list", "units.view"),
    ("Structure", "Services", "units:service-list", "units.view"),
    ("Structure", "Gateway keys", "units:gatewaykey-list", "units.view"),
    ("Structure", "Provider accounts", "units:provideraccount-list", "units.view"),
    ("Structure", "Ownership rules", "units:rule-list", "units.view"),
    ("Usage", "Upload usage", "usage:batch-upload", "usage.ingest"),
    ("Usage", "Ingest batches", "usage:batch-list", "usage.view"),
    ("Usage", "Quarantine", "usage:quarantine-list", "usage.view"),
    ("Pricing", "Price book", "pricing:price-list", "pricing.view"),
    ("Pricing", "Model aliases", "pricing:alias-list", "pricing.view"),
    ("Admin", "Configuration file", "units:config", "config.manage"),
    ("Admin", "Model approvals", "gateway:approval-list", "config.manage"),
    ("Admin", "Ingestion keys", "usage:ingestionkey-list", "keys.manage"),
    ("Admin", "Members", "tenancy:member-list", "members.manage"),
    ("Admin", "Alert webhooks", "budgets:webhook-list", "budgets.manage"),
    ("Admin", "Alert deliveries", "budgets:delivery-list", "budgets.manage"),
    ("Admin", "Audit log", "audit:event-list", "audit.view"),
]


Badge = Callable[[Membership], tuple[str | None, int]]
BADGES: dict[str, Badge] = {}


def register_badge(url_name: str, badge: Badge) -> None:
    """Show `badge(membership)`'s label (None: the item's own) and count on an item."""
    BADGES[url_name] = badge


def _badge(name: str, label: str, membership: Membership) -> tuple[str, int]:
    badge = BADGES.get(name)
    if badge is None:
        return label, 0
    try:
        own, count = badge(membership)
    except ScopeError:  # a page rendered outside the organisation's scope
        return label, 0
    return own or label, count


def navigation_for(request: HttpRequest, membership: Membership) -> list[dict]:
    sections: dict[str, list[dict]] = {}
    current = request.path
    # A unit's spend page (a team lead's landing page) sits under units/ but belongs to Spend.
    match = getattr(request, "resolver_match", None)
    spend = match is not None and match.view_name == "dashboards:unit-spend"
    for section, label, name, perm in ITEMS:
        if not membership.has_perm(perm):
            continue
        url = reverse(name, kwargs={"org_slug": membership.organization.slug})
        if name == "dashboards:overview":
            active = current == url or spend
        else:
            active = current.startswith(url) and not spend
        label, count = _badge(name, label, membership)
        item = {"label": label, "url": url, "active": active, "count": count}
        sections.setdefault(section, []).append(item)
    return [{"title": title, "items": items} for title, items in sections.items()]
