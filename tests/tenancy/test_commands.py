"""The create_org and seed_demo management commands."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from chargeback.audit.models import AuditEvent
from chargeback.billing.models import Statement
from chargeback.budgets.models import Alert, Budget
from chargeback.provisioning.demo import DEMO_PASSWORD
from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.tenancy.scoping import within
from chargeback.units.models import (
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)
from chargeback.usage.models import DailyUsage, UsageEvent
from chargeback.wallets.models import LedgerEntry
from tests import factories as f


def create_org(*args: str) -> list[str]:
    out = StringIO()
    call_command("create_org", *args, stdout=out)
    return out.getvalue().splitlines()


def structure_actions(org: Organization) -> list[str]:
    """The audit actions of the organization, its units and memberships, oldest first."""
    with within(org):
        return [
            e.action
            for e in AuditEvent.objects.filter(organization=org).order_by("id")
            if e.action.split(".")[0] in {"organization", "businessunit", "membership"}
        ]


# create_org -----------------------------------------------------------------------------


def test_create_org_with_a_new_admin(db):
    lines = create_org(
        "--slug=acme2",
        "--name=Acme Two",
        "--currency=eur",
        "--timezone=Europe/Berlin",
        "--country=de",
        "--admin-email=Boss@Acme2.example",
    )
    assert lines[0] == "created organization acme2 (Acme Two, EUR, Europe/Berlin)"
    prefix = (
        "admin: boss@acme2.example; set a password at http://127.0.0.1:8000/accounts/set-password/"
    )
    assert lines[1].startswith(prefix)
    # No default price book ships in EUR: it says so rather than load USD prices that would
    # price nothing (issue 15, finding 11).
    assert lines[2].startswith("warning: no prices in EUR; no default price book ships in EUR")
    assert len(lines) == 3

    org = Organization.objects.get(slug="acme2")
    assert (org.name, org.currency, org.timezone, org.country) == (
        "Acme Two",
        "EUR",
        "Europe/Berlin",
        "DE",
    )
    with within(org):
        assert [
            (u.code, u.is_central, u.owner_email, u.billing_mode)
            for u in BusinessUnit.objects.filter(organization=org)
        ] == [("CENTRAL", True, "Boss@Acme2.example", "showback")]
        assert [(m.user.email, m.role) for m in Membership.objects.filter(organization=org)] == [
            ("boss@acme2.example", Role.ADMIN)
        ]
        assert structure_actions(org) == [
            "organization.created",
            "businessunit.created",
            "membership.created",
        ]
        assert {e.actor_label for e in AuditEvent.objects.filter(organization=org)} == {
            "command:create_org"
        }


def test_create_org_with_an_existing_user_as_admin(db):
    f.UserFactory(username="known@example.com")
    lines = create_org("--slug=two", "--name=Two", "--admin-email=known@example.com")
    assert lines == [
        "created organization two (Two, USD, UTC)",
        "admin: known@example.com (existing user)",
    ]


def test_create_org_without_an_admin(db):
    assert create_org("--slug=solo", "--name=Solo") == [
        "created organization solo (Solo, USD, UTC)"
    ]
    org = Organization.objects.get(slug="solo")
    with within(org):
        assert list(Membership.objects.filter(organization=org)) == []
        assert BusinessUnit.objects.get(organization=org).owner_email == "finance@solo.invalid"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--slug=alpha"],
            'slug: the slug "alpha" is already taken',
        ),
        (
            ["--slug=new", "--timezone=Mars/Olympus"],
            'timezone: Unknown timezone "Mars/Olympus": use an IANA name such as Europe/Berlin.',
        ),
        (
            ["--slug=new", "--currency=zzz"],
            'currency: Unknown currency "ZZZ": use an ISO 4217 code such as USD.',
        ),
        (
            ["--slug=new", "--country=xx"],
            'country: Unknown country "XX": use an ISO 3166 code such as DE.',
        ),
        (
            ["--slug=-bad-"],
            "slug: Use 1-50 lowercase letters, digits or hyphens, not starting or ending with a hyphen.",
        ),
        (
            ["--slug=Bad_Slug"],
            "slug: Use 1-50 lowercase letters, digits or hyphens, not starting or ending with a hyphen.",
        ),
        (
            ["--slug=new", "--admin-email=not-an-email"],
            'email: "not-an-email" is not a valid email address.',
        ),
    ],
)
def test_create_org_refuses_bad_input_naming_the_field(org_a, args, message):
    # Every organisation's rows, unscoped: a refused command writes nothing anywhere.
    with scopes_disabled():
        before = (
            Organization.objects.count(),
            BusinessUnit.objects.count(),
            AuditEvent.objects.count(),
        )
    with pytest.raises(CommandError) as exc:
        create_org("--name=New", *args)
    assert str(exc.value) == message
    with scopes_disabled():
        after = (
            Organization.objects.count(),
            BusinessUnit.objects.count(),
            AuditEvent.objects.count(),
        )
    assert after == before


def test_create_org_names_every_bad_field(db):
    with pytest.raises(CommandError) as exc:
        create_org("--slug=ok", "--name=X", "--currency=zzz", "--timezone=Nowhere")
    assert str(exc.value) == (
        'currency: Unknown currency "ZZZ": use an ISO 4217 code such as USD.; '
        'timezone: Unknown timezone "Nowhere": use an IANA name such as Europe/Berlin.'
    )


def test_create_org_needs_slug_and_name(db):
    with pytest.raises(CommandError) as exc:
        create_org("--slug=x")
    assert str(exc.value) == "Error: the following arguments are required: --name"


# seed_demo ---------------------------------------------------------------------------------


def counts() -> dict[str, int]:
    """Every organisation's rows, unscoped: a second seed_demo writes nothing anywhere."""
    with scopes_disabled():
        return {
            "orgs": Organization.objects.count(),
            "units": BusinessUnit.objects.count(),
            "services": Service.objects.count(),
            "keys": GatewayKey.objects.count(),
            "accounts": ProviderAccount.objects.count(),
            "rules": OwnershipRule.objects.count(),
            "users": get_user_model().objects.count(),
            "memberships": Membership.objects.count(),
            "audit": AuditEvent.objects.count(),
            "events": UsageEvent.objects.count(),
            "rollup": DailyUsage.objects.count(),
            "statements": Statement.objects.count(),
            "ledger": LedgerEntry.objects.count(),
            "budgets": Budget.objects.count(),
            "alerts": Alert.objects.count(),
        }


def monthly_pace(org: Organization) -> dict[str, Decimal]:
    """Each unit's model cost over the seeded days, as a 30-day month."""
    days = settings.DEMO_TRAFFIC_DAYS
    with within(org):
        rows = DailyUsage.objects.filter(organization=org).values_list("unit__code", "cost")
        pace: dict[str, Decimal] = {}
        for code, cost in rows:
            pace[code] = pace.get(code, Decimal(0)) + cost * 30 / days
    return pace


def seed() -> list[str]:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue().splitlines()


def test_seed_demo_twice_creates_nothing_the_second_time(db):
    first = seed()
    assert first[0] == "demo organisation acme (Acme Corp) created"
    after_first = counts()
    assert {
        k: after_first[k] for k in ("orgs", "units", "services", "keys", "accounts", "rules")
    } == {
        "orgs": 1,
        "units": 14,
        "services": 10,
        "keys": 8,
        "accounts": 3,
        "rules": 3,
    }
    assert (after_first["users"], after_first["memberships"]) == (5, 5)
    assert after_first["events"] > 1000 * settings.DEMO_TRAFFIC_DAYS

    second = seed()
    assert second[0] == "demo organisation acme (Acme Corp) already present"
    assert second[1:] == first[1:]
    assert counts() == after_first


def test_seed_demo_spends_like_a_mid_size_company(db):
    """Tens of thousands of dollars a month at the price book's prices: two large production
    services, mid-size ones and small experiments (a week of traffic here, paced to a month)."""
    seed()
    pace = monthly_pace(Organization.objects.get(slug="acme"))
    assert Decimal(12_000) <= sum(pace.values()) <= Decimal(60_000)
    largest = sorted(pace, key=pace.get, reverse=True)
    assert largest[:2] == ["SUP-AUTO", "SEARCH"]
    assert all(Decimal(5_000) <= pace[code] <= Decimal(20_000) for code in largest[:2])
    assert sum(1 for cost in pace.values() if cost < 1_000) >= 3  # the small ones


def test_seed_demo_has_one_login_per_role(db):
    lines = seed()
    assert lines[1].startswith("demo traffic: batch ") and "quarantined=" in lines[1]
    assert lines[2:] == [
        f"demo logins (password: {DEMO_PASSWORD}):",
        "  admin      admin@acme.example",
        "  finance    finance@acme.example",
        "  viewer     viewer@acme.example",
        "  team_lead  lead.support@acme.example of SUP",
        "  team_lead  lead.product@acme.example of PROD",
    ]
    org = Organization.objects.get(slug="acme")
    with within(org):
        members = Membership.objects.filter(organization=org).order_by("user__username")
        assert [
            (m.user.username, m.role, sorted(m.units.values_list("code", flat=True)))
            for m in members
        ] == [
            ("admin@acme.example", "admin", []),
            ("finance@acme.example", "finance", []),
            ("lead.product@acme.example", "team_lead", ["PROD"]),
            ("lead.support@acme.example", "team_lead", ["SUP"]),
            ("viewer@acme.example", "viewer", []),
        ]
        for m in members:
            assert m.user.check_password(DEMO_PASSWORD)


def test_seed_demo_structure(db):
    seed()
    org = Organization.objects.get(slug="acme")
    assert (org.currency, org.timezone, org.country) == ("USD", "Europe/Berlin", "DE")
    with within(org):
        central = BusinessUnit.objects.get(organization=org, is_central=True)
        assert (central.code, central.name, central.owner_email) == (
            "CENTRAL",
            "Central AI Platform",
            "platform@acme.example",
        )
        units = {u.code: u for u in BusinessUnit.objects.filter(organization=org)}
        assert units["SUP-T1"].parent.code == "SUP"
        assert units["SUP"].parent.code == "CUST"
        assert units["CUST"].parent is None
        assert [r.position for r in OwnershipRule.objects.filter(organization=org)] == [1, 2, 3]
        assert {e.actor_label for e in AuditEvent.objects.filter(organization=org)} == {
            "command:seed_demo"
        }
        assert structure_actions(org).count("businessunit.created") == 14
        assert structure_actions(org).count("businessunit.updated") == 1  # the central unit renamed


def test_seed_demo_team_leads_see_their_own_subtrees(client, db):
    seed()
    client.login(username="lead.support@acme.example", password=DEMO_PASSWORD)
    rows = client.get("/o/acme/units/").context["rows"]
    assert [u.code for u, _ in rows] == ["SUP", "SUP-AUTO", "SUP-T1"]
    client.login(username="lead.product@acme.example", password=DEMO_PASSWORD)
    rows = client.get("/o/acme/units/").context["rows"]
    assert [u.code for u, _ in rows] == ["PROD", "AGENTS", "DATA", "SEARCH"]
