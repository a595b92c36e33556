from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "chargeback.audit"
    label = "audit"
