from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "chargeback.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy"

    def ready(self) -> None:
        from chargeback.tenancy import security  # noqa: F401, PLC0415 (connects its receiver)
