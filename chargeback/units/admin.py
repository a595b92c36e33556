from django.contrib import admin

from chargeback.tenancy.admin import ScopesDisabledAdmin
from chargeback.units.models import (
    BusinessUnit,
    GatewayKey,
    OwnershipRule,
    ProviderAccount,
    Service,
)


@admin.register(BusinessUnit)
class BusinessUnitAdmin(ScopesDisabledAdmin):
    list_display = ["code", "name", "organization", "billing_mode", "is_central", "archived"]
    list_filter = ["organization"]


for model in (Service, GatewayKey, ProviderAccount, OwnershipRule):
    admin.site.register(model, ScopesDisabledAdmin)
