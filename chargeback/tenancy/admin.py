"""The Django admin is for superusers only (is_staff alone is not enough). Tenant rows are
listed with scopes disabled, deliberately: a superuser operates the whole installation.
Append-only audit events are read-only here."""

from django.contrib import admin
from django_scopes import scopes_disabled

from chargeback.tenancy.models import Membership, Organization


def superuser_only(request) -> bool:
    return request.user.is_active and request.user.is_superuser


admin.site.has_permission = superuser_only


class ScopesDisabledAdmin(admin.ModelAdmin):
    def changelist_view(self, request, extra_context=None):
        with scopes_disabled():
            return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with scopes_disabled():
            return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        with scopes_disabled():
            return super().delete_view(request, object_id, extra_context)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "currency", "timezone", "country"]
    search_fields = ["slug", "name"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role"]
    list_filter = ["role", "organization"]
