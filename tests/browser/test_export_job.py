"""A finance member prepares a large export in the browser: from the overview's link to the
prepare page, the job's page with its progress bar, and the download it then offers."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_finance_prepares_an_export_and_downloads_it(page: Page, live_server, login, shoot):
    login("finance@acme.example")
    page.goto(f"{live_server.url}/o/acme/")
    page.get_by_test_id("events-export-prepare").click()
    expect(page.get_by_role("heading", name="Prepare an export")).to_be_visible()
    rows = int(page.get_by_test_id("export-rows").inner_text().replace(",", ""))
    assert rows > 0
    page.get_by_label("FOCUS (one row per unit, day, provider and model)").check()
    shoot("finance", "export-prepare")
    page.get_by_test_id("prepare-export").click()
    expect(page.locator("#progress")).to_have_attribute("data-status", "done", timeout=30_000)
    expect(page.locator("#progress progress")).to_have_attribute("value", "100")
    shoot("finance", "export-job")
    with page.expect_download() as download:
        page.get_by_test_id("export-download").click()
    assert download.value.suggested_filename.startswith("acme-focus-1.3-")
    text = download.value.path().read_text(encoding="utf-8")
    assert text.startswith("BilledCost,") and text.count("\n") > 1
