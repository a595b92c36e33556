"""Every role logs in through the form and opens every page of its sidebar; the admin creates,
moves and archives a unit; the org switcher and logging out work. Each page visited leaves a
full-page screenshot under artifacts/screenshots/<role>/<page>.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Response, expect

from chargeback.provisioning.orgs import create_organization
from chargeback.tenancy.models import Role
from chargeback.tenancy.navigation import ITEMS
from chargeback.tenancy.permissions import role_has_perm

pytestmark = [
    pytest.mark.browser,
    # pytest-playwright 0.10 defines base_url as a method; not ours to fix.
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

# role -> (login, membership role)
ROLES = {
    "admin": ("admin@acme.example", Role.ADMIN),
    "finance": ("finance@acme.example", Role.FINANCE),
    "viewer": ("viewer@acme.example", Role.VIEWER),
    "lead-support": ("lead.support@acme.example", Role.TEAM_LEAD),
    "lead-product": ("lead.product@acme.example", Role.TEAM_LEAD),
}
# team lead -> the unit codes it may see (its units and their descendants)
LEAD_UNITS = {
    "lead-support": ["SUP", "SUP-AUTO", "SUP-T1"],
    "lead-product": ["AGENTS", "DATA", "PROD", "SEARCH"],
}


def expected_sidebar(role: str) -> list[str]:
    """The sidebar a role should get: every navigation item its permissions allow, in order
    (a team lead's Disputes item reads "My disputes")."""
    labels = [label for _section, label, _name, perm in ITEMS if role_has_perm(role, perm)]
    if role == "team_lead":
        labels = ["My disputes" if label == "Disputes" else label for label in labels]
    return labels


def assert_healthy(page: Page, response: Response | None) -> None:
    """200, an h1, and no sign of a Django error page."""
    assert response is not None
    assert response.status == 200, f"{page.url} answered {response.status}"
    expect(page.locator("h1")).to_have_count(1)
    text = page.content()
    assert "Traceback" not in text, page.url
    assert "Server Error" not in text, page.url


def sidebar_links(page: Page) -> list[tuple[str, str]]:
    links = page.locator("nav.sidebar a")
    return [
        (links.nth(i).inner_text().strip(), links.nth(i).get_attribute("href"))
        for i in range(links.count())
    ]


def unit_codes(page: Page) -> list[str]:
    return sorted(page.locator("table.tree tbody td:nth-child(2) code").all_inner_texts())


@pytest.mark.parametrize("role", list(ROLES))
def test_role_opens_every_page_in_its_sidebar(page, live_server, login, shoot, role) -> None:
    email, membership_role = ROLES[role]
    login(email)
    if role in LEAD_UNITS:  # a team lead lands on the spend of the unit it leads
        assert page.url.startswith(f"{live_server.url}/o/acme/units/") and page.url.endswith(
            "/spend/"
        )
    else:
        assert page.url == f"{live_server.url}/o/acme/"
    links = sidebar_links(page)
    labels = [label for label, _href in links]
    assert labels == expected_sidebar(membership_role)
    # Admin pages only for the roles that hold their permission.
    assert ("Members" in labels) is (role == "admin")
    assert ("Audit log" in labels) is (role in ("admin", "finance"))

    for label, href in links:
        response = page.goto(f"{live_server.url}{href}")
        assert_healthy(page, response)
        expect(page.locator("nav.sidebar a[aria-current=page]")).to_have_text(label)
        shoot(role, label)

    if role in LEAD_UNITS:
        page.goto(f"{live_server.url}/o/acme/units/")
        assert unit_codes(page) == LEAD_UNITS[role]


def test_team_lead_sees_only_its_units(page, live_server, login) -> None:
    login("lead.support@acme.example")
    page.get_by_role("link", name="Business units").click()
    codes = unit_codes(page)
    assert codes == ["SUP", "SUP-AUTO", "SUP-T1"]
    assert "SALES" not in codes
    assert "PROD" not in codes
    # No management buttons for a team lead.
    expect(page.get_by_role("link", name="New unit")).to_have_count(0)


def test_admin_creates_moves_and_archives_a_unit(page, live_server, login, shoot) -> None:
    login("admin@acme.example")
    page.get_by_role("link", name="Business units").click()
    page.get_by_role("link", name="New unit").click()
    expect(page.locator("h1")).to_have_text("New business unit")
    shoot("admin", "unit-create")

    page.locator("#id_code").fill("SUP-EU")
    page.locator("#id_name").fill("Support Europe")
    page.locator("#id_kind").select_option("team")
    page.locator("#id_parent").select_option(label="SUP · Support")
    page.locator("#id_owner_email").fill("eu.support@acme.example")
    page.locator("#id_billing_mode").select_option("chargeback")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".msg.success")).to_have_text(
        "The business unit SUP-EU · Support Europe was created."
    )
    expect(page.locator("h1")).to_contain_text("Support Europe")
    expect(page.locator("nav.crumbs")).to_contain_text("Support")
    shoot("admin", "unit-detail")

    page.get_by_role("link", name="Edit or move").click()
    expect(page.locator("#id_parent")).to_have_value(re.compile(r"\d+"))
    page.locator("#id_parent").select_option(label="SALES · Sales")
    shoot("admin", "unit-edit")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".msg.success")).to_have_text(
        "The business unit SUP-EU · Support Europe was updated."
    )
    expect(page.locator("nav.crumbs")).to_have_text("Business units › Sales › Support Europe")

    page.get_by_role("link", name="Archive").click()
    expect(page.locator("h1")).to_have_text("Archive business unit SUP-EU · Support Europe?")
    shoot("admin", "unit-archive-confirm")
    page.get_by_role("button", name="Archive").click()

    expect(page.locator(".msg.success")).to_have_text(
        "The business unit SUP-EU · Support Europe was archived."
    )
    assert page.url == f"{live_server.url}/o/acme/units/"
    assert "SUP-EU" not in unit_codes(page)
    shoot("admin", "unit-list-after-archive")

    page.locator("#show").select_option("archived")
    expect(page.locator("table.tree tbody td:nth-child(2) code")).to_have_text(["SUP-EU"])


def test_org_switcher_moves_between_organizations(page, live_server, login, shoot) -> None:
    create_organization(
        slug="globex",
        name="Globex Europe",
        currency="EUR",
        timezone="Europe/Paris",
        admin_email="admin@acme.example",
        actor="test",
    )
    login("admin@acme.example")
    # Two memberships: home lists the organizations instead of picking one.
    assert page.url == f"{live_server.url}/orgs/"
    expect(page.locator("table tbody td:first-child")).to_have_text(["Acme Corp", "Globex Europe"])
    shoot("admin", "org-list")

    page.get_by_role("link", name="Acme Corp").click()
    expect(page.locator("h1")).to_have_text("Acme Corp")
    page.locator("details.switcher summary").click()
    expect(page.locator("details.switcher ul")).to_be_visible()
    shoot("admin", "org-switcher-open")

    page.locator("details.switcher").get_by_role("link", name="Globex Europe").click()
    assert page.url == f"{live_server.url}/o/globex/"
    expect(page.locator("h1")).to_have_text("Globex Europe")
    expect(page.locator("details.switcher summary")).to_contain_text("EUR")

    page.locator("details.switcher summary").click()
    page.locator("details.switcher").get_by_role("link", name="All organizations").click()
    assert page.url == f"{live_server.url}/orgs/"


def test_log_out(page, live_server, login, shoot) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    shoot("anonymous", "login")
    login("viewer@acme.example")
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("h1")).to_have_text("Log in to Chargeback")
    assert page.url == f"{live_server.url}/accounts/login/"

    response = page.goto(f"{live_server.url}/o/acme/units/")
    assert_healthy(page, response)
    assert page.url == f"{live_server.url}/accounts/login/?next=/o/acme/units/"


def test_admin_creates_an_ingestion_key_and_copies_it(page, live_server, login, shoot) -> None:
    login("admin@acme.example")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("link", name="Ingestion keys").click()
    page.get_by_role("link", name="New key").click()
    page.locator("#id_name").fill("Browser gateway")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("h1")).to_have_text("Ingestion key “Browser gateway” created")
    secret = page.locator("#secret").inner_text().strip()
    assert secret.startswith("cbk_")
    page.get_by_role("button", name="Copy the key").click()
    expect(page.locator('[data-copied-for="secret"]')).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    shoot("admin", "ingestion-key-created")

    page.reload()  # re-sends the form: the same key, no secret, no second key
    expect(page.locator(".msg.info")).to_contain_text("no second key was made")
    assert secret not in page.content()
    page.get_by_role("link", name="Back to the keys").click()
    expect(page.locator("table")).to_contain_text("Browser gateway")
    assert page.locator("table").inner_text().count("Browser gateway") == 1


def test_finance_selects_every_open_record_on_a_quarantine_page(page, live_server, login) -> None:
    """The demo leaves unknown models in quarantine: the header box ticks them all."""
    login("finance@acme.example")
    page.get_by_role("link", name="Quarantine").click()
    boxes = page.locator('#selection input[name="ids"]')
    assert boxes.count() > 0
    page.get_by_label("Select every open record on this page").check()
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    page.get_by_label("Select every open record on this page").uncheck()
    assert not any(boxes.nth(i).is_checked() for i in range(boxes.count()))
    expect(page.locator("label", has_text="Main reason")).to_contain_text("No price for the model")
