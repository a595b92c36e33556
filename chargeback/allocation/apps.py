from django.apps import AppConfig


class AllocationConfig(AppConfig):
    name = "chargeback.allocation"
    label = "allocation"
