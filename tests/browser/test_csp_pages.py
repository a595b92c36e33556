"""Pages outside the app's own templates work under the Content-Security-Policy too (the
`page` fixture fails a test on any refused script or style): the API docs (Swagger UI from
drf-spectacular's sidecar, its set-up script a file), the admin's login and the lockout page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_the_api_docs_render_for_a_signed_in_user(page: Page, live_server, login):
    login("admin@acme.example")
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("Chargeback API")
    expect(page.locator(".opblock").first).to_be_visible()


def test_the_admin_login_page_renders(page: Page, live_server):
    page.goto(f"{live_server.url}/admin/login/")
    expect(page.locator("#id_username")).to_be_visible()


def test_the_lockout_page_says_so(page: Page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    for _ in range(6):
        page.locator("#id_username").fill("viewer@acme.example")
        page.locator("#id_password").fill("not-the-password")
        with page.expect_navigation():
            page.get_by_role("button", name="Log in").click()
        if "Too many failed logins" in page.content():
            break
        page.goto(f"{live_server.url}/accounts/login/")
    expect(page.get_by_role("heading", name="Too many failed logins")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("locked for 15 minutes")
