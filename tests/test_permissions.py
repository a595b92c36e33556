"""Roles, permission strings, the view decorator and the role-aware navigation."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from chargeback.tenancy.models import Membership, Role
from chargeback.tenancy.navigation import ITEMS
from chargeback.tenancy.permissions import ALL_PERMISSIONS, org_permission, role_has_perm

PERMS = [
    "org.view",
    "units.view",
    "spend.view_all",
    "audit.view",
    "units.manage",
    "members.manage",
    "config.manage",
]
# role -> the permissions above it holds, in the order above
MATRIX = {
    "admin": PERMS,
    "finance": ["org.view", "units.view", "spend.view_all", "audit.view"],
    "viewer": ["org.view", "units.view", "spend.view_all"],
    "team_lead": ["org.view", "units.view"],
}


@pytest.mark.parametrize("role", Role.values)
def test_role_permission_matrix(role: str):
    assert [p for p in PERMS if role_has_perm(role, p)] == MATRIX[role]


def test_roles_nest_and_admin_holds_every_permission():
    held = {role: {p for p in ALL_PERMISSIONS if role_has_perm(role, p)} for role in Role.values}
    assert held["admin"] == set(ALL_PERMISSIONS)
    assert held["team_lead"] <= held["viewer"] <= held["finance"] <= held["admin"]
    assert set(PERMS) <= set(ALL_PERMISSIONS)


def test_unknown_permission_raises():
    with pytest.raises(ValueError, match="unknown permission 'units.destroy'"):
        role_has_perm("admin", "units.destroy")
    with pytest.raises(ValueError, match="unknown permission 'units.destroy'"):
        org_permission("units.destroy")
    with pytest.raises(ValueError):
        Membership(role=Role.ADMIN).has_perm("")


def test_unknown_role_holds_nothing():
    assert [p for p in PERMS if role_has_perm("owner", p)] == []


def test_membership_has_perm_follows_its_role():
    assert Membership(role=Role.FINANCE).has_perm("audit.view") is True
    assert Membership(role=Role.VIEWER).has_perm("audit.view") is False


def _org_views(resolver: URLResolver, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for p in resolver.url_patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            out += _org_views(p, route)
        elif isinstance(p, URLPattern) and route.startswith("o/<slug:org_slug>/"):
            out.append((route, p.callback))
    return out


def test_every_org_page_declares_a_known_permission():
    views = _org_views(get_resolver())
    assert len(views) > 20
    undeclared = [
        route
        for route, view in views
        if getattr(view, "required_permission", None) not in ALL_PERMISSIONS
    ]
    assert undeclared == []


# Navigation ------------------------------------------------------------------------------

STRUCTURE = [
    ("Overview", "/o/alpha/"),
    ("Business units", "/o/alpha/units/"),
    ("Services", "/o/alpha/services/"),
    ("Gateway keys", "/o/alpha/keys/"),
    ("Provider accounts", "/o/alpha/accounts/"),
    ("Ownership rules", "/o/alpha/rules/"),
]
USAGE = [
    ("Upload usage", "/o/alpha/usage/upload/"),
    ("Ingest batches", "/o/alpha/usage/batches/"),
    ("Quarantine", "/o/alpha/usage/quarantine/"),
]
PRICING = [("Price book", "/o/alpha/prices/"), ("Model aliases", "/o/alpha/model-aliases/")]
BILLING = [
    ("Statements", "/o/alpha/statements/"),
    ("Disputes", "/o/alpha/disputes/"),
    ("Month-end close", "/o/alpha/billing/periods/"),
    ("Provider invoices", "/o/alpha/invoices/"),
    ("Reconciliation", "/o/alpha/reconciliation/"),
    ("Chargeback readiness", "/o/alpha/readiness/"),
    ("Wallets", "/o/alpha/wallets/"),
    ("Gateway decisions", "/o/alpha/gateway/decisions/"),
    ("Outcome counts", "/o/alpha/billing/outcomes/"),
    ("Allocation policy", "/o/alpha/policy/"),
]
BUDGETS = [("Budgets", "/o/alpha/budgets/"), ("Alerts", "/o/alpha/alerts/")]
ALERT_ADMIN = [
    ("Alert webhooks", "/o/alpha/alert-webhooks/"),
    ("Alert deliveries", "/o/alpha/alert-deliveries/"),
]
STATEMENTS = [
    ("Statements", "/o/alpha/statements/"),
    ("Disputes", "/o/alpha/disputes/"),
    ("Wallets", "/o/alpha/wallets/"),
    ("Gateway decisions", "/o/alpha/gateway/decisions/"),
]
NAV = {
    "admin": [
        *STRUCTURE[:1],
        *BUDGETS,
        *BILLING,
        *STRUCTURE[1:],
        *USAGE,
        *PRICING,
        ("Configuration file", "/o/alpha/config/"),
        ("Model approvals", "/o/alpha/gateway/approvals/"),
        ("Ingestion keys", "/o/alpha/ingestion-keys/"),
        ("Members", "/o/alpha/members/"),
        *ALERT_ADMIN,
        ("Audit log", "/o/alpha/audit/"),
    ],
    "finance": [
        *STRUCTURE[:1],
        *BUDGETS,
        *BILLING,
        *STRUCTURE[1:],
        *USAGE,
        *PRICING,
        *ALERT_ADMIN,
        ("Audit log", "/o/alpha/audit/"),
    ],
    "viewer": [*STRUCTURE[:1], *BUDGETS, *STATEMENTS, *STRUCTURE[1:], *PRICING],
    "team_lead": [
        *STRUCTURE[:1],
        *BUDGETS,
        # a team lead's Disputes item reads "My disputes"
        *[("My disputes", h) if label == "Disputes" else (label, h) for label, h in STATEMENTS],
        *STRUCTURE[1:],
        *PRICING,
    ],
}


def sidebar_links(response) -> list[tuple[str, str]]:
    html = response.content.decode()
    block = re.search(r'<nav class="sidebar".*?</nav>', html, re.S)
    assert block is not None
    return [
        (text, href)
        for href, text in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', block.group(0))
    ]


@pytest.mark.parametrize("persona", ["admin", "finance", "viewer", "team_lead"])
def test_navigation_shows_only_permitted_items(request, db, client_for, persona):
    web = client_for(request.getfixturevalue(persona))
    response = web.get("/o/alpha/")
    assert response.status_code == 200
    assert sidebar_links(response) == NAV[persona]
    sections = [s["title"] for s in response.context["nav"]]
    assert sections == (
        ["Spend", "Billing", "Structure", "Usage", "Pricing", "Admin"]
        if persona in ("admin", "finance")
        else ["Spend", "Billing", "Structure", "Pricing"]
    )


@pytest.mark.parametrize("persona", ["admin", "finance", "viewer", "team_lead"])
def test_shown_items_open_and_hidden_items_are_forbidden(request, db, client_for, persona):
    membership = request.getfixturevalue(persona)
    web = client_for(membership)
    shown = {href for _label, href in sidebar_links(web.get("/o/alpha/"))}

    for _section, label, name, _perm in ITEMS:
        href = reverse(name, kwargs={"org_slug": "alpha"})
        expected = 200 if href in shown else 403
        assert (label, web.get(href).status_code) == (label, expected)


def test_current_page_is_marked_in_the_navigation(client_for, admin):
    response = client_for(admin).get("/o/alpha/services/", {"q": "x"})
    active = [i["label"] for s in response.context["nav"] for i in s["items"] if i["active"]]
    assert active == ["Services"]
    assert b'<a href="/o/alpha/services/" aria-current="page">' in response.content
    response = client_for(admin).get("/o/alpha/")
    active = [i["label"] for s in response.context["nav"] for i in s["items"] if i["active"]]
    assert active == ["Overview"]


def test_team_lead_overview_lists_the_led_units(client_for, team_lead):
    response = client_for(team_lead).get("/o/alpha/")
    assert [u.code for u in response.context["led_units"]] == ["SALES-EU"]
    assert [label.strip("\u00a0") for _id, label in response.context["board"].unit_options] == [
        "Sales Europe",
        "Sales Germany",
    ]


def test_pages_outside_an_org_have_no_navigation(client_for, admin):
    response = client_for(admin).get("/orgs/")
    assert response.context["nav"] == []
    assert b'<nav class="sidebar"' not in response.content


def test_a_team_leads_landing_page_marks_overview_not_business_units(
    client_for, team_lead, admin, unit_tree
):
    web = client_for(team_lead)
    landing = web.get("/", follow=True)
    assert "/spend/" in landing.redirect_chain[-1][0]  # a unit's spend page, under units/
    active = [i["label"] for s in landing.context["nav"] for i in s["items"] if i["active"]]
    assert active == ["Overview"]
    units = client_for(admin).get("/o/alpha/units/")
    assert [i["label"] for s in units.context["nav"] for i in s["items"] if i["active"]] == [
        "Business units"
    ]
