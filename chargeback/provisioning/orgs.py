"""Creating organizations: the organisation, its central bucket, the default price book and
its first admin, in one transaction."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django_scopes import scopes_disabled

from chargeback.audit.log import record, snapshot
from chargeback.members.membership import add_member
from chargeback.pricing.books import load_default_prices
from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.units.models import BillingMode, BusinessUnit, UnitKind

CENTRAL_CODE = "CENTRAL"


def create_organization(
    *,
    slug: str,
    name: str,
    currency: str = "USD",
    timezone: str = "UTC",
    country: str = "",
    admin_email: str = "",
    actor: Any = "create_org",
) -> tuple[Organization, Membership | None]:
    """Create an organization with its central bucket and, optionally, its first admin."""
    org = Organization(slug=slug, name=name, currency=currency, timezone=timezone, country=country)
    org.full_clean()
    with transaction.atomic(), scopes_disabled():
        org.save()
        record(
            organization=org,
            actor=actor,
            action="organization.created",
            obj=org,
            after=snapshot(org),
        )
        central = BusinessUnit(
            organization=org,
            code=CENTRAL_CODE,
            name="Central platform",
            kind=UnitKind.DIVISION,
            owner_email=admin_email or f"finance@{slug}.invalid",
            billing_mode=BillingMode.SHOWBACK,
            is_central=True,
        )
        central.save()
        record(
            organization=org,
            actor=actor,
            action="businessunit.created",
            obj=central,
            after=snapshot(central),
        )
        load_default_prices(org, actor=actor)  # none if none ships in its currency
        membership = None
        if admin_email:
            membership, _link = add_member(
                organization=org, actor=actor, email=admin_email, role=Role.ADMIN
            )
    return org, membership


def check_slug_free(slug: str) -> None:
    if Organization.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f'The slug "{slug}" is already taken.'})
