from django.contrib import admin

from chargeback.audit.models import AuditEvent
from chargeback.tenancy.admin import ScopesDisabledAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ScopesDisabledAdmin):
    list_display = ["created_at", "organization", "actor_label", "action", "object_repr"]
    list_filter = ["organization", "action"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
