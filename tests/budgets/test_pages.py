"""Budget pages as each role: finance and admins set budgets, team leads read their units'."""

from __future__ import annotations

from decimal import Decimal

from django.core import mail

from chargeback.budgets.checks import check_budgets
from chargeback.budgets.models import AlertRead, Budget, Webhook
from chargeback.tenancy.scoping import within
from tests.budgets.conftest import TODAY, make_budget


def test_finance_sets_a_budget_and_another_currency_is_refused(
    client_for, org_a, spending, finance
):
    client = client_for(finance)
    url = f"/o/alpha/budgets/units/{spending['sales'].pk}/"
    form = {"amount": "2500", "currency": "EUR", "thresholds": "50, 80, 100",
            "include_descendants": "on", "action": "save"}  # fmt: skip
    refused = client.post(url, form)
    assert refused.status_code == 200
    assert "is not the organisation&#x27;s currency (USD)" in refused.content.decode()
    with within(org_a):
        assert not Budget.objects.exists()
    bad = client.post(url, {**form, "currency": "USD", "thresholds": "50, x"})
    assert "is not a list of whole percents" in bad.content.decode()
    saved = client.post(url, {**form, "currency": "USD"})
    assert saved.status_code == 302
    with within(org_a):
        budget = Budget.objects.get()
    assert budget.amount == Decimal(2500) and budget.include_descendants and not budget.hard
    page = client.get("/o/alpha/budgets/").content.decode()
    assert "SALES" in page and "$2,500.00" in page and "$2,000.00" in page  # spend
    assert "$3,100.00" in page and "2026-10-25" in page  # forecast, run-out date
    assert "Alpha Industries, October 2026" in page  # the organisation's outlook
    detail = client.get(f"/o/alpha/units/{spending['sales'].pk}/").content.decode()
    assert "Budget and forecast" in detail and "Edit budget" in detail


def test_team_lead_reads_its_units_only(client_for, org_a, spending, team_lead):
    make_budget(org_a, spending["eu"], amount="2500")
    make_budget(org_a, spending["support"], amount="10")
    client = client_for(team_lead)
    page = client.get("/o/alpha/budgets/").content.decode()
    assert "SALES-EU" in page and "SUPPORT" not in page and "Edit" not in page
    assert "Alpha Industries, October 2026" not in page  # not the organisation's totals
    assert client.get(f"/o/alpha/budgets/units/{spending['eu'].pk}/").status_code == 403
    assert client.get("/o/alpha/alert-webhooks/").status_code == 403
    assert client.get("/o/alpha/alert-deliveries/").status_code == 403


def test_bell_and_alerts_page_mark_read(client_for, org_a, spending, finance, team_lead, viewer):
    make_budget(org_a, spending["eu"], amount="2500")  # 50%, 80%, forecast
    make_budget(org_a, spending["support"], amount="1")  # no spend: nothing fires
    with within(org_a):
        check_budgets(organization=org_a, today=TODAY)
    lead = client_for(team_lead)
    page = lead.get("/o/alpha/alerts/").content.decode()
    assert "Budget alerts: 3 unread" in page and "SALES-EU" in page
    assert "Forecast over budget" in page and "80% reached" in page
    lead.post("/o/alpha/alerts/", {})
    assert "Budget alerts: 0 unread" in lead.get("/o/alpha/alerts/").content.decode()
    with within(org_a):
        assert AlertRead.objects.filter(user=team_lead.user).count() == 3
    assert "Budget alerts: 3 unread" in client_for(finance).get("/o/alpha/").content.decode()
    viewer_page = client_for(viewer).get("/o/alpha/alerts/").content.decode()
    assert "No alerts" in viewer_page  # a viewer owns no unit here


def test_admin_adds_a_webhook_and_sees_the_delivery_log(client_for, org_a, spending, admin):
    client = client_for(admin)
    bad = client.post("/o/alpha/alert-webhooks/",
                      {"action": "create", "name": "x", "url": "ftp://x", "secret": "s"})  # fmt: skip
    assert bad.status_code == 200 and "URL" in bad.content.decode()
    ok = client.post("/o/alpha/alert-webhooks/", {"action": "create", "name": "ops",
                     "url": "http://127.0.0.1:9/hook", "secret": "s"})  # fmt: skip
    assert ok.status_code == 302
    with within(org_a):
        hook = Webhook.objects.get()
    client.post("/o/alpha/alert-webhooks/", {"action": "deactivate", "webhook": hook.pk})
    with within(org_a):
        hook.refresh_from_db()
        assert not hook.active
    make_budget(org_a, spending["sales"], amount="4000", thresholds=[50])
    with within(org_a):
        check_budgets(organization=org_a, today=TODAY)
    log = client.get("/o/alpha/alert-deliveries/").content.decode()
    assert "Email" in log and "SALES 50% 2026-10" in log
    assert mail.outbox == []  # queued on commit: the test's transaction never commits


def test_budgets_api_by_role(client_for, org_a, spending, finance, team_lead):
    make_budget(org_a, spending["eu"], amount="2500")
    make_budget(org_a, spending["support"], amount="10")
    data = client_for(finance).get("/api/v1/o/alpha/budgets/").json()
    assert data["period"] == "2026-10" and [b["unit"] for b in data["budgets"]] == [
        "SALES-EU", "SUPPORT"]  # fmt: skip
    eu = data["budgets"][0]
    assert (eu["spend"], eu["forecast"], eu["run_out"]) == ("2000.00", "3100.00", "2026-10-25")
    lead = client_for(team_lead).get("/api/v1/o/alpha/budgets/?period=2026-09").json()
    assert [b["unit"] for b in lead["budgets"]] == ["SALES-EU"]
    bad = client_for(finance).get("/api/v1/o/alpha/budgets/?period=2026-13")
    assert bad.status_code == 400 and "period" in bad.json()


def test_a_lead_who_loses_a_unit_no_longer_counts_its_alerts(
    client_for, org_a, spending, admin, team_lead
):
    """The bell counts what the alerts page shows: once an admin takes SALES-EU from its team
    lead, the unit's alerts (which the lead can no longer open) leave the count and the page."""
    make_budget(org_a, spending["eu"], amount="2500")  # 50%, 80%, forecast
    with within(org_a):
        check_budgets(organization=org_a, today=TODAY)
    lead = client_for(team_lead)
    before = lead.get("/o/alpha/alerts/").content.decode()
    assert "Budget alerts: 3 unread" in before and "SALES-EU" in before
    edited = client_for(admin).post(
        f"/o/alpha/members/{team_lead.pk}/edit/",
        {"role": "team_lead", "units": [spending["support"].pk]},
    )
    assert edited.status_code == 302
    lead = client_for(team_lead)
    for url in ("/o/alpha/", "/o/alpha/alerts/"):
        assert "Budget alerts: 0 unread" in lead.get(url).content.decode()
    after = lead.get("/o/alpha/alerts/").content.decode()
    assert "No alerts" in after and "SALES-EU" not in after
    # the copies are kept: given the unit back, the lead finds them unread again
    client_for(admin).post(
        f"/o/alpha/members/{team_lead.pk}/edit/",
        {"role": "team_lead", "units": [spending["sales"].pk]},
    )
    assert "Budget alerts: 3 unread" in client_for(team_lead).get("/o/alpha/").content.decode()
