from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "chargeback.usage"
    label = "usage"

    def ready(self) -> None:
        # Connects the answers to the price book's signals.
        from chargeback.usage import quarantine_views  # noqa: F401, PLC0415 (the apps must be loaded first)
