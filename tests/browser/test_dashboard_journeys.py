"""The showback journeys of issue 6, in Chromium against the seeded demo: finance changes the
period and the stacking (htmx swaps the body, the URL stays shareable), downloads a chart's
CSV and drills into a unit; a team lead sees only its units; an admin edits a unit. Every page
visited leaves a screenshot under artifacts/screenshots/<role>/."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit

pytestmark = [
    pytest.mark.browser,
    # pytest-playwright 0.10 defines base_url as a method; not ours to fix.
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

SUPPORT_SUBTREE = {"SUP", "SUP-T1", "SUP-AUTO"}


def unit_id(org, code: str) -> int:
    with within(org):
        return BusinessUnit.objects.get(organization=org, code=code).pk


LIVE_PLOTS = """() => {
  const charts = Array.from(document.querySelectorAll("div.chart[data-chart]"));
  return charts.length > 0 && charts.every((el) => el._fullLayout && el.querySelector("svg.main-svg"));
}"""


def charts_drawn(page: Page) -> None:
    """Plotly has drawn every chart of the page as a live plot (not markup left over in a
    history snapshot: `_fullLayout` is Plotly's state on the element)."""
    page.wait_for_function(LIVE_PLOTS)


def table_codes(page: Page) -> set[str]:
    return set(page.locator("#units tbody code").all_inner_texts())


def download_csv(page: Page, card: str, link: str = "Download CSV") -> tuple[str, list[list[str]]]:
    """Clicks the card's "Download CSV" (or its "exact" link, the CSV for machines); returns
    the file name and the parsed rows."""
    with page.expect_download() as info:
        page.locator(card).get_by_role("link", name=link, exact=True).click()
    download = info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    return download.suggested_filename, list(csv.reader(io.StringIO(text)))


def test_finance_changes_the_period_downloads_a_chart_and_drills_into_a_unit(
    page, live_server, login, shoot, demo
) -> None:
    login("finance@acme.example")
    assert page.url == f"{live_server.url}/o/acme/"
    expect(page.locator("h1")).to_have_text("Acme Corp")
    charts_drawn(page)
    shoot("finance", "overview-month-to-date")

    # The period picker swaps the page body over htmx: no reload, the URL follows.
    page.evaluate("window.journeyMarker = 'same page'")
    page.locator("#f-period").select_option("30d")
    expect(page).to_have_url(f"{live_server.url}/o/acme/?period=30d")
    expect(page.locator(".page-head p")).to_contain_text("Last 30 days")
    expect(page.locator("#f-period")).to_have_value("30d")
    assert page.evaluate("window.journeyMarker") == "same page"
    charts_drawn(page)
    expect(page.locator("#chart-daily details.chart-table tbody tr")).to_have_count(30)
    shoot("finance", "overview-last-30-days")

    # Stack the daily spend by model: the chart is redrawn with the models as its series.
    page.locator("#chart-daily").get_by_role("link", name="By model").click()
    expect(page).to_have_url(f"{live_server.url}/o/acme/?period=30d&stack=model")
    expect(page.locator("#chart-daily-title")).to_have_text("Daily spend by model")
    legend = page.locator("#chart-daily .legendtext")
    expect(legend.filter(has_text=re.compile(r"^\w+/")).first).to_be_visible()
    expect(legend.filter(has_text="Agents Lab")).to_have_count(0)
    assert page.evaluate("window.journeyMarker") == "same page"
    charts_drawn(page)
    shoot("finance", "overview-by-model")

    # Back and forward walk the pushed URLs, and the charts come back drawn.
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/o/acme/?period=30d")
    expect(page.locator("#chart-daily-title")).to_have_text("Daily spend by unit")
    charts_drawn(page)
    page.go_forward()
    expect(page.locator("#chart-daily-title")).to_have_text("Daily spend by model")
    charts_drawn(page)
    assert page.evaluate("window.journeyMarker") == "same page"

    # The same URL loaded in full gives the same page: the view can be shared.
    page.reload()
    assert page.evaluate("window.journeyMarker") is None
    expect(page.locator("#f-period")).to_have_value("30d")
    expect(page.locator("#chart-daily-title")).to_have_text("Daily spend by model")
    charts_drawn(page)

    # The chart's exact CSV is exactly its table: one row a day, the series, then their total.
    today = dt.date.fromisoformat(page.locator("#f-to").input_value())
    first = today - dt.timedelta(days=29)
    name, people = download_csv(page, "#chart-daily")
    assert name == f"acme-overview-daily-{first}-{today}.csv"
    assert people[0][-2:] == ["Total", "Currency"] and people[-1][0] == "Total"
    name, rows = download_csv(page, "#chart-daily", "exact")
    assert name == f"acme-overview-daily-{first}-{today}-exact.csv"
    header, body = rows[0], rows[1:]
    assert header[0] == "Day" and header[-1] == "Total" and len(header) >= 3
    assert all("/" in series for series in header[1:-1] if series != "Other models")
    assert [r[0] for r in body] == [str(first + dt.timedelta(days=i)) for i in range(30)]
    for r in body:
        assert sum((Decimal(v) for v in r[1:-1]), Decimal(0)) == Decimal(r[-1])
    assert sum(Decimal(r[-1]) for r in body) > 0
    view = page.locator("#chart-daily details.chart-table")
    view.locator("summary").click()
    expect(view.locator("thead th")).to_have_text(header)

    # Drill into a unit from the business-unit table; the period and stacking come along.
    page.locator("#units").get_by_role("link", name="Support Tier 1", exact=True).click()
    expect(page).to_have_url(
        re.compile(rf"{live_server.url}/o/acme/units/\d+/spend/\?period=30d&stack=model$")
    )
    expect(page.locator("h1")).to_contain_text("Support Tier 1")
    expect(page.locator("nav.crumbs")).to_have_text("Overview › Support › Support Tier 1")
    expect(page.locator("#events tbody tr").first).to_be_visible()
    charts_drawn(page)
    shoot("finance", "unit-spend-support-tier-1")


def test_team_lead_sees_only_its_units(page, live_server, login, shoot, demo) -> None:
    login("lead.support@acme.example")
    sup = unit_id(demo, "SUP")
    assert page.url == f"{live_server.url}/o/acme/units/{sup}/spend/"
    expect(page.locator("h1")).to_contain_text("Support")
    assert table_codes(page) <= SUPPORT_SUBTREE and table_codes(page)
    options = [o.strip("\u00a0 ") for o in page.locator("#f-unit option").all_inner_texts()]
    assert options == ["All of Support", "Support", "Support Automation", "Support Tier 1"]
    charts_drawn(page)
    shoot("lead-support", "landing-unit-spend")

    # The overview is scoped to the units it leads, and says so.
    page.goto(f"{live_server.url}/o/acme/")
    expect(page.locator(".page-head p")).to_contain_text("Your units' spend")
    assert table_codes(page) <= SUPPORT_SUBTREE and table_codes(page)
    content = page.content()
    for other in ("Sales EMEA", "Agents Lab", "Legal", "Marketing", "Data Platform"):
        assert other not in content, other
    _name, rows = download_csv(page, "#units", "exact")
    assert {r[0] for r in rows[1:]} <= SUPPORT_SUBTREE
    shoot("lead-support", "overview-scoped")

    # Another unit's page does not exist for it; a foreign unit filter is dropped, and said so.
    response = page.goto(f"{live_server.url}/o/acme/units/{unit_id(demo, 'SALES-EMEA')}/spend/")
    assert response is not None and response.status == 404
    shoot("lead-support", "other-unit-404")
    page.goto(f"{live_server.url}/o/acme/?unit={unit_id(demo, 'SALES')}")
    expect(page.locator(".msg.warning")).to_have_text(
        "That unit is not one you can see; the unit filter was dropped."
    )
    assert table_codes(page) <= SUPPORT_SUBTREE


def test_admin_edits_a_business_unit(page, live_server, login, shoot, demo) -> None:
    login("admin@acme.example")
    page.get_by_role("link", name="Business units").click()
    page.locator("table.tree").get_by_role("link", name="Marketing", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Marketing")
    page.get_by_role("link", name="Edit or move").click()
    expect(page.locator("#id_name")).to_have_value("Marketing")
    page.locator("#id_name").fill("Marketing & Brand")
    page.locator("#id_billing_mode").select_option("showback")
    shoot("admin", "unit-edit-marketing")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".msg.success")).to_have_text(
        "The business unit MKT · Marketing & Brand was updated."
    )
    expect(page.locator("h1")).to_contain_text("Marketing & Brand")
    shoot("admin", "unit-detail-after-edit")

    # The dashboards show the new name and billing mode at once.
    page.get_by_role("link", name="View spend").click()
    expect(page.locator("h1")).to_contain_text("Marketing & Brand")
    expect(page.locator(".page-head .badge")).to_have_text("Showback")
    page.goto(f"{live_server.url}/o/acme/")
    row = page.locator("#units tbody tr", has_text="Marketing & Brand")
    expect(row.locator(".badge")).to_have_text("Showback")
    shoot("admin", "overview-after-edit")
