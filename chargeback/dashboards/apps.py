from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "chargeback.dashboards"
    label = "dashboards"
