from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "chargeback.gateway"
    label = "gateway"
    verbose_name = "Gateway authorization"

    def ready(self) -> None:
        from chargeback.gateway import receivers  # noqa: F401, PLC0415 (registers with wallets)
