from django.apps import AppConfig


class UnitsConfig(AppConfig):
    name = "chargeback.units"
    label = "units"
