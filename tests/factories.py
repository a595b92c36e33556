"""Boring factory_boy factories. Create tenant rows with scopes disabled (tests do too)."""

import factory
from django.contrib.auth import get_user_model

from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.units.models import (
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    password = factory.django.Password(PASSWORD)


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"Organization {n}")
    currency = "USD"
    timezone = "Europe/Berlin"
    country = "DE"


class BusinessUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessUnit

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"U{n:03d}")
    name = factory.Sequence(lambda n: f"Unit {n}")
    owner_email = "owner@example.com"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.VIEWER


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"service-{n}")
    unit = factory.SubFactory(
        BusinessUnitFactory, organization=factory.SelfAttribute("..organization")
    )


class GatewayKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GatewayKey

    organization = factory.SubFactory(OrganizationFactory)
    key_id = factory.Sequence(lambda n: f"gk-{n}")
    unit = factory.SubFactory(
        BusinessUnitFactory, organization=factory.SelfAttribute("..organization")
    )
    environment = "production"
    owner_email = "keyowner@example.com"


class ProviderAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderAccount

    organization = factory.SubFactory(OrganizationFactory)
    provider = "openai"
    account = factory.Sequence(lambda n: f"proj_{n}")
    unit = factory.SubFactory(
        BusinessUnitFactory, organization=factory.SelfAttribute("..organization")
    )


class OwnershipRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OwnershipRule

    organization = factory.SubFactory(OrganizationFactory)
    match_service = factory.Sequence(lambda n: f"svc-{n}")
    unit = factory.SubFactory(
        BusinessUnitFactory, organization=factory.SelfAttribute("..organization")
    )
