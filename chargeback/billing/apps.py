from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "chargeback.billing"
    label = "billing"
    verbose_name = "Billing periods and statements"
