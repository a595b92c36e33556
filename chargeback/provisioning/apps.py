from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "chargeback.provisioning"
    label = "provisioning"
    verbose_name = "Provisioning: new organisations, the configuration file, the demo"
