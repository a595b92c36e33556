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


def test_finance_audits_a_sample_before_onboarding(page: Page, live_server, login, shoot):
    login("finance@acme.example")
    page.goto(f"{live_server.url}/o/acme/readiness/")
    page.get_by_role("link", name="Audit a sample of its gateway logs").click()
    expect(page.get_by_role("heading", name="Audit a sample of gateway logs")).to_be_visible()
    sample = (
        b'{"request_id": "s-1", "occurred_at": "2026-10-03T14:22:05Z", "provider": "openai", '
        b'"model": "gpt-4o-mini-2024-07-18", "input_tokens": 1200, "output_tokens": 300}\n'
        b"not json\n"
    )
    page.set_input_files(
        "input[type=file]",
        {"name": "sample.ndjson", "mimeType": "application/x-ndjson", "buffer": sample},
    )
    page.get_by_role("button", name="Audit").click()
    expect(page.get_by_role("heading", name="sample.ndjson: 2 records (ndjson)")).to_be_visible()
    expect(page.get_by_text("1 would be stored")).to_be_visible()
    expect(page.get_by_role("cell", name="malformed", exact=True)).to_be_visible()
    shoot("finance", "sample-audit")
