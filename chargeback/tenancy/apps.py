from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "chargeback.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"
