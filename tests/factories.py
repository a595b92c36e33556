"""Boring factory_boy factories. They create rows with scopes disabled, as fixtures do: building
test data is not a query of one organisation's (the test body then runs in a scope)."""

import factory
from django.contrib.auth import get_user_model
from django_scopes import scopes_disabled

from chargeback.tenancy.models import Membership, Organization, Role
from chargeback.units.models import (
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)

PASSWORD = "correct-horse-battery-9"


class Factory(factory.django.DjangoModelFactory):
    """A model factory that creates (and gets-or-creates) outside any organisation's scope."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with scopes_disabled():
            return super()._create(model_class, *args, **kwargs)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        with scopes_disabled():
            super()._after_postgeneration(instance, create, results)


class UserFactory(Factory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    password = factory.django.Password(PASSWORD)


class OrganizationFactory(Factory):
    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"Organization {n}")
    currency = "USD"
    timezone = "Europe/Berlin"
    country = "DE"


class BusinessUnitFactory(Factory):
    class Meta:
        model = BusinessUnit

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"U{n:03d}")
    name = factory.Sequence(lambda n: f"Unit {n}")
    owner_email = "owner@example.com"


class MembershipFactory(Factory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.VIEWER


class ServiceFactory(Factory):
    class Meta:
        model = Service

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"service-{n}")
    unit = factory.SubFactory(
        BusinessUnitFactory, organization=factory.SelfAttribute("..organization")
    )


class GatewayKeyFactory(Factory):
    class Meta:
        model = GatewayKey

    organization = factory.SubFactory(OrganizationFactory)
    key_id = factory.Sequence(lambda n: f"gk-{n}")
    unit = factory.SubFactory(
        BusinessUnitFactory, organization=factory.SelfAttribute("..organization")
    )
    environment = "production"
    owner_email = "keyowner@example.com"


class ProviderAccountFactory(Factory):
    class Meta:
        model = ProviderAccount

    organization = factory.SubFactory(OrganizationFactory)
    provider = "openai"
    account = factory.Sequence(lambda n: f"proj_{n}")
    unit = factory.SubFactory(
        BusinessUnitFactory, organization=factory.SelfAttribute("..organization")
    )


class OwnershipRuleFactory(Factory):
    class Meta:
        model = OwnershipRule

    organization = factory.SubFactory(OrganizationFactory)
    match_service = factory.Sequence(lambda n: f"svc-{n}")
    unit = factory.SubFactory(
        BusinessUnitFactory, organization=factory.SelfAttribute("..organization")
    )
