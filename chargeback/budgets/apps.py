from django.apps import AppConfig


class BudgetsConfig(AppConfig):
    name = "chargeback.budgets"
    label = "budgets"
    verbose_name = "Budgets, alerts and forecasts"
