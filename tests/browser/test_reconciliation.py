"""Finance's month-end reconciliation in the browser, under the Content-Security-Policy: the
demo's invoices, the figures, the waterfall drawn by Plotly, and the readiness page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_finance_reconciles_the_demo_month(page: Page, live_server, login, shoot):
    login("finance@acme.example")
    page.goto(f"{live_server.url}/o/acme/invoices/")
    expect(page.get_by_role("heading", name="Provider invoices")).to_be_visible()
    page.get_by_role("link", name="Reconciliation", exact=True).first.click()
    expect(page.get_by_role("heading", name="Reconciliation")).to_be_visible()
    expect(page.locator(".figure .label", has_text="Billed")).to_be_visible()
    expect(page.locator(".chart .main-svg").first).to_be_attached()  # Plotly drew it
    expect(page.locator("#causes")).to_contain_text("Invoice-time discounts")
    shoot("finance", "reconciliation")
    page.goto(f"{live_server.url}/o/acme/readiness/")
    expect(page.get_by_role("heading", name="Chargeback readiness")).to_be_visible()
    expect(page.locator("table.table tbody tr").first).to_be_visible()
    shoot("finance", "readiness")
