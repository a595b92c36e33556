"""An organisation with October 2026 issued: SUP (chargeback) $8.25, SALES (chargeback)
$27.00, AGENT (showback) $187.50; its members: finance, an admin, SUP's team lead, SALES's team
lead and a viewer. Issued on Monday 2 November 2026: the review window ends on Monday 9th."""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scopes_disabled

from chargeback.billing.close import draft_statements, issue_statements
from chargeback.billing.models import Statement
from chargeback.tenancy.models import Role
from chargeback.tenancy.scoping import within
from chargeback.units.models import BusinessUnit
from tests import factories as f
from tests.billing.test_close import OCT, worked  # noqa: F401 (the fixture)

ISSUED_ON = dt.date(2026, 11, 2)
DEADLINE = dt.date(2026, 11, 9)


def member(org, role, email, units=()):
    with scopes_disabled():
        m = f.MembershipFactory(organization=org, role=role, user=f.UserFactory(username=email))
        if units:
            m.units.set(units)
    return m


@pytest.fixture
def issued(worked):  # noqa: F811 (the fixture imported above)
    with scopes_disabled():
        BusinessUnit.objects.filter(organization=worked, code__in=["SUP", "SALES"]).update(
            billing_mode="chargeback"
        )
    with within(worked):
        draft_statements(worked, OCT)
        issue_statements(worked, OCT, today=ISSUED_ON)
    return worked


@pytest.fixture
def statements(issued):
    with within(issued):
        return {s.unit.code: s for s in Statement.objects.select_related("unit", "period")}


@pytest.fixture
def people(issued):
    with scopes_disabled():
        units = {u.code: u for u in BusinessUnit.objects.filter(organization=issued)}
    return {
        "finance": member(issued, Role.FINANCE, "fin@alpha.example"),
        "finance2": member(issued, Role.FINANCE, "fin2@alpha.example"),
        "admin": member(issued, Role.ADMIN, "adm@alpha.example"),
        "sup_lead": member(issued, Role.TEAM_LEAD, "sup@alpha.example", [units["SUP"]]),
        "sales_lead": member(issued, Role.TEAM_LEAD, "sales@alpha.example", [units["SALES"]]),
        "viewer": member(issued, Role.VIEWER, "view@alpha.example"),
    }
