from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "chargeback.reconciliation"
    label = "reconciliation"
    verbose_name = "Reconciliation"

    def ready(self) -> None:
        # Billing cannot import this app (layers): tell it which true-up lines a month's
        # drafts carry, and refuse a close while the unexplained variance is too large.
        from chargeback.billing import (  # noqa: PLC0415 (apps are loaded by now)
            close_gates,
            finality,
        )
        from chargeback.reconciliation import (  # noqa: PLC0415 (apps are loaded by now)
            gate,
            trueup,
        )

        finality.register_carried_lines(trueup.carried_true_up)
        close_gates.register("reconciliation_variance", gate.close_gate)
