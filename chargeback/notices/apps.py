from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "chargeback.notices"
    label = "notices"
    verbose_name = "Notices (in-app and email)"
