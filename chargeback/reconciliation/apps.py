from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "chargeback.reconciliation"
    label = "reconciliation"
    verbose_name = "Reconciliation"

    def ready(self) -> None:
        # Billing cannot import this app (layers): tell it which true-up lines a month's
        # drafts carry.
        from chargeback.billing import finality  # noqa: PLC0415 (apps are loaded by now)
        from chargeback.reconciliation import trueup  # noqa: PLC0415 (apps are loaded by now)

        finality.register_carried_lines(trueup.carried_true_up)
