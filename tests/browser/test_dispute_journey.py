"""The dispute cycle in Chromium against the seeded demo (issue 14's "Done when"): the demo's
last month is issued and in its window, with disputes in progress. The support team lead sees
its statement, opens a dispute from a line's Dispute action and comments; finance finds it in
the inbox (the navigation counts the open ones), starts the review and asks for information;
the team lead answers; finance rejects it with a written reason; the team lead sees the
outcome, the reason and the notifications. Screenshots under artifacts/screenshots/<role>/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from chargeback.billing.models import PeriodState, Statement
from chargeback.disputes.models import Dispute
from chargeback.provisioning.demo import seed_demo
from chargeback.tenancy.scoping import within

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),
]

LEAD = "lead.support@acme.example"
FINANCE = "finance@acme.example"
# Enough traffic for two complete months whatever today is: the one before last closed with
# settled disputes, the last one issued and in review with disputes in progress.
TRAFFIC_DAYS = 62


@pytest.fixture
def demo(transactional_db, settings):
    settings.DEMO_TRAFFIC_DAYS = TRAFFIC_DAYS
    org, _created = seed_demo()
    return org


def nav_item(page: Page, label: str):
    return page.locator("nav.sidebar a", has_text=label)


def switch_to(page: Page, login, email: str) -> None:
    page.context.clear_cookies()
    login(email)


def open_dispute_page(page: Page, live_server, number: int) -> None:
    page.goto(f"{live_server.url}/o/acme/disputes/{number}/")
    expect(page.locator("h1")).to_contain_text(f"Dispute {number}")


def test_the_dispute_cycle_for_the_team_lead_and_finance(page, live_server, login, shoot, demo):
    with within(demo):
        in_review = demo.billing_periods.get(state=PeriodState.IN_REVIEW)
        statement = Statement.objects.get(period=in_review, unit__code="SUP-T1")
        seeded = Dispute.objects.filter(statement__period=in_review).count()
    assert seeded == 3  # open, under review, information requested

    # The team lead: its statement, a line's Dispute action, the form prefilled.
    login(LEAD)
    expect(nav_item(page, "My disputes")).to_contain_text("3")
    page.goto(f"{live_server.url}/o/acme/statements/")
    page.get_by_role("link", name=statement.number).first.click()
    expect(page.locator("h1")).to_contain_text(statement.number)
    shoot("team-lead", "statement-in-review")
    page.locator("a.line-dispute").first.click()
    expect(page.locator("h1")).to_contain_text(f"Dispute {statement.number}")
    expect(page.locator('input[name="lines"]:checked')).to_have_count(1)
    expect(page.locator('input[name="amount"]')).not_to_have_value("")
    page.locator('input[name="amount"]').fill("0.05")
    page.locator('select[name="reason"]').select_option("pricing")
    page.locator('textarea[name="description"]').fill("This model was priced at last month's rate.")
    page.get_by_role("button", name="Open the dispute").click()
    expect(page.locator(".msg.success")).to_contain_text("is open: finance responds by")
    number = int(re.search(r"/disputes/(\d+)/", page.url).group(1))
    expect(page.locator("h1")).to_contain_text("Open")
    expect(page.locator("#behind-title")).to_have_text("Behind the charge")
    page.locator('textarea[name="text"]').last.fill("The price list we got says otherwise.")
    page.get_by_role("button", name="Comment").click()
    expect(page.locator("ol.timeline")).to_contain_text("The price list we got says otherwise.")
    shoot("team-lead", "dispute-opened")

    # Finance: the inbox with its count, the review, a question.
    switch_to(page, login, FINANCE)
    expect(nav_item(page, "Disputes")).to_contain_text("4")
    nav_item(page, "Disputes").click()
    expect(page.locator("h1")).to_contain_text("Dispute inbox")
    shoot("finance", "dispute-inbox")
    page.get_by_role("link", name=str(number), exact=True).click()
    page.get_by_role("button", name="Start review").click()
    expect(page.locator("h1")).to_contain_text("Under review")
    page.locator('form:has(input[value="request_info"]) textarea').fill("Which price list?")
    page.get_by_role("button", name="Request information").click()
    expect(page.locator("h1")).to_contain_text("Information requested")
    shoot("finance", "information-requested")

    # The team lead answers (it was told: a notification).
    switch_to(page, login, LEAD)
    page.goto(f"{live_server.url}/o/acme/notices/")
    expect(page.locator("main")).to_contain_text(f"Dispute {number}")
    expect(page.locator("main")).to_contain_text("needs information from you")
    open_dispute_page(page, live_server, number)
    page.locator('form:has(input[value="answer_info"]) textarea').fill("The Q3 contract, page 4.")
    page.get_by_role("button", name="Answer").click()
    expect(page.locator("h1")).to_contain_text("Under review")

    # Finance rejects it with a written reason.
    switch_to(page, login, FINANCE)
    open_dispute_page(page, live_server, number)
    page.locator('select[name="outcome"]').select_option("rejected")
    page.locator('form:has(input[value="resolve"]) textarea').fill(
        "The Q3 contract ended in September; October's prices apply."
    )
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("h1")).to_contain_text("Rejected")
    expect(nav_item(page, "Disputes")).to_contain_text("3")
    shoot("finance", "dispute-rejected")

    # The team lead sees the outcome and the reason.
    switch_to(page, login, LEAD)
    open_dispute_page(page, live_server, number)
    expect(page.locator("h1")).to_contain_text("Rejected")
    expect(page.locator("main")).to_contain_text("October's prices apply.")
    page.goto(f"{live_server.url}/o/acme/notices/")
    expect(page.locator("main")).to_contain_text("was rejected")
    shoot("team-lead", "dispute-outcome")
