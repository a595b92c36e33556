"""The demo organisation: Acme Corp, three divisions and ten teams, with keys, accounts, rules
and one login per role. Applying it twice changes nothing."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django_scopes import scopes_disabled

from chargeback.calendar import Period
from chargeback.provisioning.demo_billing import seed_billing
from chargeback.provisioning.demo_budgets import seed_budgets
from chargeback.provisioning.demo_invoices import seed_invoices
from chargeback.provisioning.demo_traffic import ingest_demo_traffic
from chargeback.provisioning.demo_wallets import seed_wallets
from chargeback.provisioning.orgs import create_organization
from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.tenancy.scoping import within
from chargeback.units.models import (
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)
from chargeback.units.structure import save_entity

DEMO_SLUG = "acme"
DEMO_PASSWORD = "chargeback-demo"  # noqa: S105 - printed by make run; demo only
ACTOR = "command:seed_demo"

# code, name, kind, parent, owner, billing mode
UNITS = [
    ("CUST", "Customer Operations", "division", None, "ana@acme.example", "chargeback"),
    ("SUP", "Support", "department", "CUST", "ana@acme.example", "chargeback"),
    ("SUP-T1", "Support Tier 1", "team", "SUP", "li@acme.example", "chargeback"),
    ("SUP-AUTO", "Support Automation", "team", "SUP", "li@acme.example", "chargeback"),
    ("SALES", "Sales", "department", "CUST", "raj@acme.example", "chargeback"),
    ("SALES-EMEA", "Sales EMEA", "team", "SALES", "raj@acme.example", "chargeback"),
    ("PROD", "Product & Engineering", "division", None, "mia@acme.example", "showback"),
    ("SEARCH", "Search", "team", "PROD", "tom@acme.example", "showback"),
    ("AGENTS", "Agents Lab", "team", "PROD", "mia@acme.example", "showback"),
    ("DATA", "Data Platform", "team", "PROD", "ola@acme.example", "showback"),
    ("CORP", "Corporate", "division", None, "eve@acme.example", "chargeback"),
    ("LEGAL", "Legal", "team", "CORP", "eve@acme.example", "chargeback"),
    ("MKT", "Marketing", "team", "CORP", "sam@acme.example", "chargeback"),
]
SERVICES = [
    ("ticket-summarizer", "SUP-T1", "service"),
    ("reply-drafter", "SUP-AUTO", "service"),
    ("triage", "SUP-AUTO", "workflow"),
    ("lead-scoring", "SALES-EMEA", "service"),
    ("semantic-search", "SEARCH", "service"),
    ("research-agent", "AGENTS", "workflow"),
    ("etl-enrichment", "DATA", "service"),
    ("contract-review", "LEGAL", "service"),
    ("campaign-writer", "MKT", "service"),
    ("shared-retrieval", "CENTRAL", "service"),
]
KEYS = [
    ("gk-support-prod", "SUP-T1", "ticket-summarizer", "production", "li@acme.example"),
    ("gk-support-auto", "SUP-AUTO", "reply-drafter", "production", "li@acme.example"),
    ("gk-sales-prod", "SALES-EMEA", "lead-scoring", "production", "raj@acme.example"),
    ("gk-search-prod", "SEARCH", "semantic-search", "production", "tom@acme.example"),
    ("gk-agents-dev", "AGENTS", "research-agent", "development", "mia@acme.example"),
    ("gk-data-batch", "DATA", "etl-enrichment", "production", "ola@acme.example"),
    ("gk-legal-prod", "LEGAL", "contract-review", "production", "eve@acme.example"),
    ("gk-marketing", "MKT", "campaign-writer", "production", "sam@acme.example"),
]
ACCOUNTS = [
    ("openai", "proj_support", "SUP"),
    ("anthropic", "wrk_agents", "AGENTS"),
    ("bedrock", "123456789012", "DATA"),
]
RULES = [
    ({"service": "triage"}, "SUP-AUTO", "Triage workflow belongs to Support Automation"),
    ({"cost_center": "CC-410"}, "SUP", "Cost center 410 is Support"),
    ({"environment": "development", "team": "agents"}, "AGENTS", "Agent experiments"),
]
# email, name, role, led units
USERS = [
    ("admin@acme.example", "Ada Admin", Role.ADMIN, []),
    ("finance@acme.example", "Fin Ance", Role.FINANCE, []),
    ("viewer@acme.example", "Vic Viewer", Role.VIEWER, []),
    ("lead.support@acme.example", "Li Support", Role.TEAM_LEAD, ["SUP"]),
    ("lead.product@acme.example", "Mia Product", Role.TEAM_LEAD, ["PROD"]),
]


def seed_demo() -> tuple[Organization, bool]:
    """Create the demo organisation if missing. Returns (org, created)."""
    with scopes_disabled(), transaction.atomic():
        org = Organization.objects.filter(slug=DEMO_SLUG).first()
        if org is not None:
            _ensure_users(org)
            return org, False
        org, _ = create_organization(
            slug=DEMO_SLUG,
            name="Acme Corp",
            currency="USD",
            timezone="Europe/Berlin",
            country="DE",
            actor=ACTOR,
        )
        central = BusinessUnit.objects.get(organization=org, is_central=True)
        central.owner_email = "platform@acme.example"
        central.name = "Central AI Platform"
        save_entity(actor=ACTOR, obj=central)
        units = {"CENTRAL": central}
        for code, name, kind, parent, owner, mode in UNITS:
            units[code] = save_entity(
                actor=ACTOR,
                obj=BusinessUnit(
                    organization=org,
                    code=code,
                    name=name,
                    kind=kind,
                    parent=units.get(parent),
                    owner_email=owner,
                    billing_mode=mode,
                ),
            )
        services = {}
        for name, unit, kind in SERVICES:
            services[name] = save_entity(
                actor=ACTOR, obj=Service(organization=org, name=name, unit=units[unit], kind=kind)
            )
        for key_id, unit, service, env, owner in KEYS:
            save_entity(
                actor=ACTOR,
                obj=GatewayKey(
                    organization=org,
                    key_id=key_id,
                    unit=units[unit],
                    service=services[service],
                    environment=env,
                    owner_email=owner,
                ),
            )
        for provider, account, unit in ACCOUNTS:
            save_entity(
                actor=ACTOR,
                obj=ProviderAccount(
                    organization=org, provider=provider, account=account, unit=units[unit]
                ),
            )
        for match, unit, description in RULES:
            fields = {f"match_{k}": v for k, v in match.items()}
            save_entity(
                actor=ACTOR,
                obj=OwnershipRule(
                    organization=org, unit=units[unit], description=description, **fields
                ),
            )
        _ensure_users(org)
    with within(org):
        ingest_demo_traffic(org)
        _seed_billing(org)
        seed_budgets(org, today=dt.datetime.now(dt.UTC).astimezone(org.tz).date(), actor=ACTOR)
        seed_wallets(org, actor=ACTOR)
    return org, True


def _seed_billing(org: Organization) -> None:
    today = dt.datetime.now(dt.UTC).astimezone(org.tz).date()
    seed_billing(org, days=settings.DEMO_TRAFFIC_DAYS, today=today)
    seed_invoices(org, Period.of(today).previous)  # the month left open for the user


def _ensure_users(org: Organization) -> None:
    User = get_user_model()
    hashed = ""  # the one password hashed once: each hash takes the hasher's full work factor
    for email, name, role, led in USERS:
        user = User.objects.filter(username=email).first()
        if user is None:
            first, _, last = name.partition(" ")
            hashed = hashed or make_password(DEMO_PASSWORD)
            user = User.objects.create(
                username=email,
                email=email,
                password=hashed,
                first_name=first,
                last_name=last,
            )
        membership, created = Membership.objects.get_or_create(
            user=user, organization=org, defaults={"role": role}
        )
        if created and led:
            membership.units.set(BusinessUnit.objects.filter(organization=org, code__in=led))
