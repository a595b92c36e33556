from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "chargeback.api"
    label = "api"
