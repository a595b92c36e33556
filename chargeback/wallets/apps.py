from django.apps import AppConfig


class WalletsConfig(AppConfig):
    name = "chargeback.wallets"
    label = "wallets"
    verbose_name = "Wallets and the ledger"

    def ready(self) -> None:
        from chargeback.wallets import receivers  # noqa: F401, PLC0415 (connects the signal handlers)
