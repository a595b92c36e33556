"""Forms for the structure pages. Model clean() holds the shared validation rules."""

from __future__ import annotations

from django import forms
from django_scopes import scopes_disabled

from chargeback.tenancy.models import Organization
from chargeback.units.models import (
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)
from chargeback.units.tree import descendants

# Model form classes read their default querysets at class creation: build them unscoped
# (the querysets are replaced per request in OrgModelForm.__init__).
with scopes_disabled():

    class OrgModelForm(forms.ModelForm):
        """Sets the instance's organization before validation and limits unit/service choices."""

        def __init__(self, *args, organization: Organization, **kwargs):
            super().__init__(*args, **kwargs)
            self.instance.organization = organization
            units = BusinessUnit.objects.filter(organization=organization, archived=False).order_by(
                "code"
            )
            for name in ("unit", "parent"):
                if name in self.fields:
                    self.fields[name].queryset = units
            if "service" in self.fields:
                self.fields["service"].queryset = Service.objects.filter(
                    organization=organization, archived=False
                )

    class BusinessUnitForm(OrgModelForm):
        class Meta:
            model = BusinessUnit
            fields = ["code", "name", "kind", "parent", "owner_email", "billing_mode", "is_central"]

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if self.instance.pk:
                parents = dict(
                    BusinessUnit.objects.filter(
                        organization=self.instance.organization
                    ).values_list("id", "parent_id")
                )
                own_subtree = descendants(parents, [self.instance.pk])
                self.fields["parent"].queryset = self.fields["parent"].queryset.exclude(
                    id__in=own_subtree
                )
                if self.instance.is_central:
                    self.fields["is_central"].disabled = True
                    self.fields[
                        "is_central"
                    ].help_text = "This is the central bucket. To move the flag, mark another unit as central."
            self.fields["parent"].required = False

    class ServiceForm(OrgModelForm):
        class Meta:
            model = Service
            fields = ["name", "kind", "unit", "description"]

    class GatewayKeyForm(OrgModelForm):
        class Meta:
            model = GatewayKey
            fields = ["key_id", "unit", "service", "environment", "owner_email"]

    class ProviderAccountForm(OrgModelForm):
        class Meta:
            model = ProviderAccount
            fields = ["provider", "account", "unit"]

    class OwnershipRuleForm(OrgModelForm):
        class Meta:
            model = OwnershipRule
            fields = [
                "match_team",
                "match_service",
                "match_cost_center",
                "match_environment",
                "match_gateway_key",
                "unit",
                "description",
            ]
