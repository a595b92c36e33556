from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "chargeback.usage"
    label = "usage"
