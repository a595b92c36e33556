from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "chargeback.members"
    label = "members"
    verbose_name = "Members"
