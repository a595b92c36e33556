"""The decisions log and the model approvals pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from chargeback.audit.models import AuditEvent
from chargeback.gateway.decide import Request, authorize
from chargeback.gateway.models import ModelApproval
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit
from tests import factories as f

pytestmark = pytest.mark.django_db


def decide(org, request_id, cost="1.00", key="gk-sup"):
    with within(org):
        return authorize(organization=org, request=Request(
            gateway_key_id=key, request_id=request_id, estimated_cost=Decimal(cost)))  # fmt: skip


@pytest.fixture
def decided(gw, unit_tree):
    org = gw["org"]
    with scopes_disabled():
        f.GatewayKeyFactory(organization=org, key_id="gk-eu", unit=unit_tree["eu"])
    decide(org, "ok-1")
    decide(org, "big", cost="99.00")
    decide(org, "stranger", key="gk-unknown")
    decide(org, "eu-1", key="gk-eu")
    return org


def test_decisions_log_filters_and_counts(client_for, finance, decided):
    web = client_for(finance)
    page = web.get("/o/alpha/gateway/decisions/")
    assert page.status_code == 200
    assert page.context["counts"] == {"allowed": 2, "denied": 2, "would_deny": 0}
    assert [d.request_id for d in page.context["page"]] == ["eu-1", "stranger", "big", "ok-1"]
    page = web.get("/o/alpha/gateway/decisions/?outcome=denied&reason=wallet_exhausted")
    assert [d.request_id for d in page.context["page"]] == ["big"]
    page = web.get("/o/alpha/gateway/decisions/?key=gk-unknown")
    assert [d.request_id for d in page.context["page"]] == ["stranger"]
    page = web.get("/o/alpha/gateway/decisions/?outcome=nonsense&reason=%00")
    assert page.status_code == 200 and page.context["filters"] == {}


def test_decisions_csv(client_for, finance, decided):
    response = client_for(finance).get("/o/alpha/gateway/decisions.csv?outcome=denied")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("created_at,request_id,gateway_key_id,unit")
    assert sorted(line.split(",")[1] for line in lines[1:]) == ["big", "stranger"]


def test_a_team_lead_sees_its_units_decisions_only(client_for, team_lead, decided):
    page = client_for(team_lead).get("/o/alpha/gateway/decisions/")
    assert [d.request_id for d in page.context["page"]] == ["eu-1"]


def test_decisions_page_queries_do_not_grow_with_rows(client_for, finance, gw,
                                                      django_assert_max_num_queries):  # fmt: skip
    web = client_for(finance)
    decide(gw["org"], "one")
    web.get("/o/alpha/gateway/decisions/")
    with django_assert_max_num_queries(12) as one:
        web.get("/o/alpha/gateway/decisions/")
    decide(gw["org"], "two")
    decide(gw["org"], "three", key="gk-x")
    with django_assert_max_num_queries(len(one.captured_queries)):
        web.get("/o/alpha/gateway/decisions/")


def test_wallet_pages_count_the_decisions(client_for, finance, decided, gw):
    page = client_for(finance).get("/o/alpha/wallets/")
    assert page.context["counts"][gw["wallet"].pk] == {"allowed": 1, "denied": 1, "would_deny": 0}
    page = client_for(finance).get(f"/o/alpha/wallets/{gw['wallet'].pk}/")
    assert page.context["counts"] == {"allowed": 1, "denied": 1, "would_deny": 0}


def test_admin_approves_and_revokes_with_a_confirmation(client_for, admin, gw):
    web = client_for(admin)
    response = web.post("/o/alpha/gateway/approvals/",
                        {"unit": gw["unit"].pk, "provider": "OpenAI", "model": "gpt-4o-2024-08-06"})  # fmt: skip
    assert response.status_code == 302
    with within(gw["org"]):
        approval = ModelApproval.objects.get()
        assert (approval.provider, approval.model, approval.approved_by) == (
            "openai", "gpt-4o", "admin@alpha.example")  # fmt: skip
    again = web.post("/o/alpha/gateway/approvals/",
                     {"unit": gw["unit"].pk, "provider": "openai", "model": "gpt-4o"})  # fmt: skip
    assert (
        again.status_code == 200 and "already approved" in again.context["form"].errors["model"][0]
    )
    url = f"/o/alpha/gateway/approvals/{approval.pk}/revoke/"
    confirm = web.get(url)
    assert confirm.status_code == 200 and b"Revoke the approval?" in confirm.content
    with within(gw["org"]):
        assert ModelApproval.objects.count() == 1
    assert web.post(url).status_code == 302
    with within(gw["org"]):
        assert ModelApproval.objects.count() == 0
        actions = list(AuditEvent.objects.filter(action__startswith="gateway.")
                       .order_by("id").values_list("action", flat=True))  # fmt: skip
    assert actions == ["gateway.model_approved", "gateway.model_revoked"]


def test_approvals_are_for_admins(client_for, finance, gw):
    assert client_for(finance).get("/o/alpha/gateway/approvals/").status_code == 403


def test_an_other_organisations_unit_cannot_be_approved(client_for, admin, gw, org_b):
    with scopes_disabled():
        foreign = BusinessUnit.objects.get(code="BSECRET")
    response = client_for(admin).post("/o/alpha/gateway/approvals/",
                                      {"unit": foreign.pk, "provider": "openai", "model": "x"})  # fmt: skip
    assert response.status_code == 200 and "unit" in response.context["form"].errors
    with scopes_disabled():
        assert ModelApproval.objects.count() == 0


def test_wallet_run_out_date_from_the_units_usage(client_for, finance, gw):
    """10.00 available; the unit spent 1.00 a day for the last 28 days: at that rate the wallet
    lasts 10 more days (today counted), if the month has them."""
    import datetime as dt
    from decimal import Decimal

    from chargeback.usage.rollup import write_rollup

    org = gw["org"]
    now = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
    with scopes_disabled():  # as ingestion rolls usage up (by day, unit-day and month)
        write_rollup({
            (org.pk, now.date() - dt.timedelta(days=n), gw["unit"].pk, "", "openai", "gpt-4o",
             "production", "gateway_key"): [1, 0, 0, 0, 0, Decimal("1.00"), Decimal(0), 0]
            for n in range(1, 29)
        })  # fmt: skip
    from chargeback.wallets.runout import run_out_dates

    with within(org):
        wallet = type(gw["wallet"]).objects.select_related("unit").get(pk=gw["wallet"].pk)
        assert run_out_dates(org, [wallet], now=now) == {wallet.pk: dt.date(2026, 12, 15)}
        late = dt.datetime(2026, 12, 25, 12, tzinfo=dt.UTC)  # the month ends first
        assert run_out_dates(org, [wallet], now=late) == {wallet.pk: None}
    page = client_for(finance).get("/o/alpha/wallets/")
    assert page.context["run_out"] == {wallet.pk: page.context["run_out"][wallet.pk]}
    assert b"Runs out" in page.content
