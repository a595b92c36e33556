"""The configuration file's pages. chargeback/urls.py serves them in the `units` namespace, where
they were before the file covered the policy too."""

from django.urls import path

from chargeback.provisioning import config_views

urlpatterns = [
    path("config/", config_views.config_page, name="config"),
    path("config/apply/", config_views.config_apply, name="config-apply"),
    path("config/download/", config_views.config_download, name="config-download"),
]
