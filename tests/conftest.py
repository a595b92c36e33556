"""Persona fixtures: org_a (ours) with admin, finance, team_lead, viewer; org_b (foreign, with
data that could leak); outsider (a user of no org).

Scopes in tests work as in production: django-scopes is enabled, so a query on a tenant model
outside an organisation's scope raises. Fixtures and factories build their data inside
`scopes_disabled()` (building data is not one organisation's query). A test body then runs the
way production does: a request through the test client (the middleware enters the scope), a
command through `call_command` (`OrgCommand` enters `--org`'s scope), a task through its
`org_task` wrapper. A test that calls a logic function directly, or reads rows back, does it
inside `with within(org):` (chargeback.tenancy.scoping), like the command, task or view that
calls it in production. `scopes_disabled()` in a test body is only for a test that looks across
organisations on purpose (isolation checks, counting everything), with a comment saying so.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django_scopes import scopes_disabled

from chargeback.tenancy.models import Role
from tests import factories as f

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    """Integration tests need PostgreSQL and a real broker; skip them on the embedded set-up."""
    real = (
        settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
        and not settings.CELERY_TASK_ALWAYS_EAGER
    )
    if real:
        return
    skip = pytest.mark.skip(
        reason="integration: needs PostgreSQL and CELERY_BROKER_URL (see .ci/run)"
    )
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _eager_unless_integration(request, settings):
    """Non-integration tests run tasks in-process even when a broker is configured."""
    from chargeback.celery import app

    if "integration" in request.keywords:
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (pages memoise reads of data a test rolls back)."""
    from django.core.cache import cache  # noqa: PLC0415 (settings are configured by now)

    cache.clear()


@pytest.fixture
def org_a(db):
    org = f.OrganizationFactory(slug="alpha", name="Alpha Industries")
    f.BusinessUnitFactory(organization=org, code="CENTRAL", name="Alpha Central", is_central=True)
    return org


@pytest.fixture
def org_b(db):
    with scopes_disabled():
        org = f.OrganizationFactory(slug="bravo", name="Bravo Secretcorp", currency="EUR")
        central = f.BusinessUnitFactory(
            organization=org, code="BCENTRAL", name="Bravo Secret Central", is_central=True
        )
        unit = f.BusinessUnitFactory(
            organization=org, code="BSECRET", name="Bravo Secret Unit", parent=central
        )
        service = f.ServiceFactory(organization=org, name="bravo-secret-service", unit=unit)
        f.GatewayKeyFactory(organization=org, key_id="gk-bravo-secret", unit=unit, service=service)
        f.ProviderAccountFactory(organization=org, account="proj_bravo_secret", unit=unit)
        f.OwnershipRuleFactory(organization=org, match_service="bravo-secret-service", unit=unit)
        admin = f.MembershipFactory(
            organization=org, role=Role.ADMIN, user=f.UserFactory(username="boss@bravo.example")
        )
        from chargeback.audit.log import record

        record(
            organization=org,
            actor=admin.user,
            action="unit.secret",
            obj=unit,
            object_repr="Bravo Secret Audit",
        )
    return org


@pytest.fixture
def unit_tree(org_a):
    """Alpha: SALES (division) > SALES-EU (department) > SALES-DE (team); SUPPORT (division)."""
    sales = f.BusinessUnitFactory(organization=org_a, code="SALES", name="Sales", kind="division")
    eu = f.BusinessUnitFactory(
        organization=org_a, code="SALES-EU", name="Sales Europe", kind="department", parent=sales
    )
    de = f.BusinessUnitFactory(organization=org_a, code="SALES-DE", name="Sales Germany", parent=eu)
    support = f.BusinessUnitFactory(
        organization=org_a, code="SUPPORT", name="Support", kind="division"
    )
    return {"sales": sales, "eu": eu, "de": de, "support": support}


def _member(org, role, email, units=()):
    with scopes_disabled():
        m = f.MembershipFactory(organization=org, role=role, user=f.UserFactory(username=email))
        if units:
            m.units.set(units)
    return m


@pytest.fixture
def admin(org_a):
    return _member(org_a, Role.ADMIN, "admin@alpha.example")


@pytest.fixture
def finance(org_a):
    return _member(org_a, Role.FINANCE, "finance@alpha.example")


@pytest.fixture
def viewer(org_a):
    return _member(org_a, Role.VIEWER, "viewer@alpha.example")


@pytest.fixture
def team_lead(org_a, unit_tree):
    return _member(org_a, Role.TEAM_LEAD, "lead@alpha.example", [unit_tree["eu"]])


@pytest.fixture
def outsider(db):
    return f.UserFactory(username="outsider@nowhere.example")


@pytest.fixture
def client_for(client):
    """client_for(membership_or_user) -> a logged-in Django test client."""

    def login(who):
        user = getattr(who, "user", who)
        client.force_login(user)
        return client

    return login


# An organisation with prices, units, keys and rules, for tests beyond tests/usage/.
from tests.usage.conftest import priced_org  # noqa: E402, F401
