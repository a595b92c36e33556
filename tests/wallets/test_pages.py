"""Wallet pages: overview, ledger with CSV, the finance form with its confirmation, and a team
lead's read-only view of its units' wallets."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from chargeback.tenancy.scoping import within
from chargeback.wallets.accounts import open_wallet
from chargeback.wallets.ledger import post_entry
from chargeback.wallets.models import LedgerEntry, Wallet
from chargeback.wallets.queries import runway_days
from chargeback.wallets.reservations import reserve, settle

D = Decimal


@pytest.fixture
def eu_wallet(org_a, unit_tree):
    with scopes_disabled():
        return open_wallet(organization=org_a, unit=unit_tree["eu"], kind="team", actor="t")


@pytest.fixture
def spent(org_a, team, central):
    with within(org_a):
        post_entry(wallet=team, type="funding", amount="300.00", reason="=HYPERLINK(1)",
                   actor="t")  # fmt: skip
        post_entry(wallet=central, type="funding", amount="1000.00", reason="pool", actor="t")
        r = reserve(wallet=team, request_id="r1", amount="50", actor="gw")
        settle(reservation=r, actual="30", actor="gw")
        reserve(wallet=team, request_id="r2", amount="20", actor="gw")
    return team


def test_the_overview_shows_balance_reserved_available_burn_and_runway(client_for, finance, spent):
    page = client_for(finance).get("/o/alpha/wallets/")
    assert page.status_code == 200
    (row,) = [o for o in page.context["rows"] if o.row.unit == "SUP"]
    assert (row.row.balance, row.row.reserved, row.row.available) == (
        D("270.00"), D("20.00"), D("250.00"))  # fmt: skip
    assert row.burn == D("30.00") and row.runway_days is not None
    assert "$270.00" in page.content.decode()


def test_the_ledger_page_filters_and_exports_csv_safely(client_for, finance, spent):
    web = client_for(finance)
    page = web.get(f"/o/alpha/wallets/{spent.pk}/")
    assert page.status_code == 200
    assert page.context["page"].paginator.count == 5
    assert page.context["series"][-1][1] == D("270.00") and len(page.context["series"]) == 90
    assert b'data-chart="figure-balance"' in page.content
    only = web.get(f"/o/alpha/wallets/{spent.pk}/?type=settlement")
    assert only.context["page"].paginator.count == 1
    csv = web.get(f"/o/alpha/wallets/{spent.pk}/ledger.csv").content.decode()
    assert csv.startswith("id,created_at,type,amount,pending,reason,key,created_by\n")
    assert "'=HYPERLINK(1)" in csv and ",=HYPERLINK" not in csv


def test_finance_funds_with_a_confirmation_and_a_double_submit_posts_once(
    client_for, finance, org_a, team
):
    web = client_for(finance)
    form = web.get("/o/alpha/wallets/move/")
    key = form.context["form"].initial["key"]
    data = {"operation": "funding", "wallet": team.pk, "amount": "125.50",
            "reason": "Q4", "key": key}  # fmt: skip
    review = web.post("/o/alpha/wallets/move/", data)
    assert review.status_code == 200 and b"Confirm" in review.content
    with within(org_a):
        assert not LedgerEntry.objects.exists()
    for _ in range(2):
        done = web.post("/o/alpha/wallets/move/", {**data, "confirm": "1"})
        assert done.status_code == 302
    with within(org_a):
        assert LedgerEntry.objects.count() == 1
        assert Wallet.objects.get(pk=team.pk).balance == D("125.50")


def test_a_bad_transfer_is_shown_on_the_form_and_posts_nothing(client_for, finance, org_a, team,
                                                               central):  # fmt: skip
    web = client_for(finance)
    data = {"operation": "transfer", "source": team.pk, "wallet": central.pk,
            "amount": "10", "reason": "x", "key": "k1", "confirm": "1"}  # fmt: skip
    page = web.post("/o/alpha/wallets/move/", data)
    assert page.status_code == 200
    assert "available" in str(page.context["form"].errors["amount"])
    same = web.post("/o/alpha/wallets/move/", {**data, "source": central.pk})
    assert "wallet" in same.context["form"].errors
    with within(org_a):
        assert not LedgerEntry.objects.exists()


def test_a_team_lead_sees_its_units_wallets_read_only(client_for, team_lead, eu_wallet, team):
    web = client_for(team_lead)
    page = web.get("/o/alpha/wallets/")
    assert [o.row.unit for o in page.context["rows"]] == ["SALES-EU"]
    assert web.get(f"/o/alpha/wallets/{eu_wallet.pk}/").status_code == 200
    assert web.get(f"/o/alpha/wallets/{team.pk}/").status_code == 404
    assert web.get(f"/o/alpha/wallets/{team.pk}/ledger.csv").status_code == 404
    assert web.get("/o/alpha/wallets/move/").status_code == 403


def test_runway_is_the_available_amount_over_the_daily_burn_in_decimal():
    # 30.00 burnt in 3 days = 10.00 a day; 250.00 lasts 25 whole days.
    assert runway_days(D("250.00"), D("30.00"), dt.timedelta(days=3)) == 25
    # Less than a day of the month counts as a day: 30.00 a day, 250.00 lasts 8 days.
    assert runway_days(D("250.00"), D("30.00"), dt.timedelta(hours=5)) == 8
    assert runway_days(D("-5.00"), D("30.00"), dt.timedelta(days=3)) == 0  # overdrawn
    assert runway_days(D("250.00"), D("0.00"), dt.timedelta(days=3)) is None  # nothing burnt


def test_the_form_refuses_a_key_of_the_system_s_own_entries(client_for, finance, org_a, team):
    """The key is the form's (a random one); a key in the shape of the keys the system posts
    with (`monthly:<wallet>:<month>`, `chargeback:<statement>:<kind>`, `credit_note:<id>`)
    is refused, so it cannot stand in for the month's funding or a statement's chargeback
    and make it post nothing."""
    from chargeback.wallets.funding import fund_month, month_key

    with scopes_disabled():
        Wallet.objects.filter(pk=team.pk).update(monthly_funding=D("100.00"))
        team.refresh_from_db()
    _month, monthly = month_key(team, org_a, timezone.now())
    web = client_for(finance)
    for key in (monthly, "chargeback:1:team", "credit_note:1"):
        data = {"operation": "funding", "wallet": team.pk, "amount": "1.00", "reason": "x",
                "key": key, "confirm": "1"}  # fmt: skip
        page = web.post("/o/alpha/wallets/move/", data)
        assert page.status_code == 200
        assert "key" in str(page.context["form"].non_field_errors())
    with within(org_a):
        assert not LedgerEntry.objects.exists()
        assert fund_month(wallet=team) is not None  # the month's funding still posts
