"""A team lead sees its units' rows only, on every page and API endpoint: a unit outside its
reach (ZULU) has a wallet, a gateway decision, a budget and its alert, an issued statement
with a dispute, and spend; no page the lead opens names any of it, and any URL that names one
of those rows is a 403 or a 404. (tests/test_isolation.py walks the routes against another
organisation and the lead's structure pages; this walks them against its own organisation's
other units.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from chargeback.billing.models import BillingPeriod, Statement, StatementLine
from chargeback.budgets.models import Alert, Budget
from chargeback.disputes.models import Dispute
from chargeback.gateway.models import Decision
from chargeback.usage.models import DailyUsage
from chargeback.wallets.models import Wallet
from tests import factories as f
from tests.test_isolation import TENANT_ROUTES, Route, page_text

HIDDEN = "zulu"  # every row of the unit out of reach carries it


@pytest.fixture
def zulu(org_a, team_lead, admin):
    """ZULU, outside the lead's reach, and its rows of October 2026 (issued)."""
    today = dt.date.today()
    with scopes_disabled():
        unit = f.BusinessUnitFactory(organization=org_a, code="ZULU", name="Zulu Hidden Unit")
        wallet = Wallet.objects.create(organization=org_a, unit=unit, kind="team", currency="USD")
        Decision.objects.create(organization=org_a, request_id="zulu-req", unit=unit,
                                gateway_key_id="gk-zulu-hidden", wallet=wallet, mode="observe",
                                allowed=False, reason="wallet_exhausted", provider="openai",
                                model="zulu-model", estimated_cost=Decimal(1))  # fmt: skip
        Budget.objects.create(organization=org_a, unit=unit, amount=Decimal(10), currency="USD")
        Alert.objects.create(organization=org_a, unit=unit, month=f"{today:%Y-%m}",
                             kind="threshold", threshold=50, spend=Decimal(6),
                             budget=Decimal(10), forecast=Decimal(12))  # fmt: skip
        DailyUsage.objects.create(organization=org_a, day=today, unit=unit, provider="openai",
                                  model="zulu-model", service="zulu-service",
                                  attribution="tag", requests=3, cost=Decimal(6))  # fmt: skip
        period = BillingPeriod.objects.create(organization=org_a, month="2026-10-01",
                                              state="open", draft_status="done")  # fmt: skip
        statement = Statement.objects.create(
            organization=org_a, period=period, unit=unit, number="ALPHA-ZULU-0001", sequence=1,
            mode="chargeback", status="draft", currency="USD", total=Decimal("6.00"),
        )  # fmt: skip
        line = StatementLine.objects.create(organization=org_a, statement=statement, position=1,
                                            kind="usage", description="zulu usage",
                                            amount=Decimal("6.00"), ref="openai/zulu-model")  # fmt: skip
        Statement.objects.filter(pk=statement.pk).update(
            status="issued", dispute_deadline=today + dt.timedelta(days=30)
        )
        BillingPeriod.objects.filter(pk=period.pk).update(state="in_review")
        dispute = Dispute.objects.create(
            organization=org_a, statement=statement, unit=unit, reason="other",
            amount=Decimal("1.00"), description="zulu hidden dispute", opened_by=admin.user,
            opened_on=today, respond_by=today + dt.timedelta(days=5),
        )  # fmt: skip
        assert not team_lead.units.filter(pk=unit.pk).exists()
    return {
        "unit_id": unit.pk,
        "wallet_id": wallet.pk,
        "statement_id": statement.pk,
        "line_id": line.pk,
        "period_id": period.pk,
        "dispute_id": dispute.pk,
    }


def _url(route: Route, ids: dict[str, int]) -> str | None:
    """The route's URL in org A with ZULU's ids; None when it names a row ZULU has not."""
    values: dict[str, object] = {"org_slug": "alpha"}
    for kwarg in route.kwargs:
        if kwarg == "org_slug":
            continue
        if kwarg not in ids:
            return None
        values[kwarg] = ids[kwarg]
    return route.url(values)


def test_a_team_lead_sees_nothing_of_a_unit_out_of_its_reach(client_for, team_lead, zulu):
    web = client_for(team_lead)
    walked = 0
    for route in TENANT_ROUTES:
        url = _url(route, zulu)
        if url is None:
            continue
        names_a_row = any(k != "org_slug" for k in route.kwargs)
        for suffix in ("", "?format=csv", "?csv=1"):
            response = web.get(url + suffix)
            if names_a_row:
                assert response.status_code in (403, 404, 405), f"GET {url}: {response.status_code}"
            else:
                assert response.status_code < 500, f"GET {url}: {response.status_code}"
            assert HIDDEN not in page_text(response), f"GET {url}{suffix} shows {HIDDEN}"
        posted = web.post(url, {"action": "resolve", "outcome": "accepted", "text": "x"})
        if names_a_row:
            assert posted.status_code in (403, 404, 405), f"POST {url}: {posted.status_code}"
        assert HIDDEN not in page_text(posted), f"POST {url}"
        walked += 1
    assert walked > 30
    with scopes_disabled():
        assert Dispute.objects.get(pk=zulu["dispute_id"]).state == "open"


def test_the_hidden_rows_show_to_finance(client_for, finance, zulu):
    """The control: the same pages show ZULU's rows to someone who may see every unit."""
    web = client_for(finance)
    for path in ("wallets/", "gateway/decisions/", "budgets/", "alerts/", "statements/",
                 "disputes/", f"disputes/{zulu['dispute_id']}/", "?period=this_month"):  # fmt: skip
        body = page_text(web.get(f"/o/alpha/{path}"))
        assert HIDDEN in body, path
    api = page_text(web.get("/api/v1/o/alpha/disputes/"))
    assert HIDDEN in api
