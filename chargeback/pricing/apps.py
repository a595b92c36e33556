from django.apps import AppConfig


class PricingConfig(AppConfig):
    name = "chargeback.pricing"
    label = "pricing"
