from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "chargeback.reconciliation"
    label = "reconciliation"
    verbose_name = "Reconciliation"
