from django.urls import path

from chargeback.usage import quarantine_views, views

app_name = "usage"

urlpatterns = [
    path("usage/upload/", views.batch_upload, name="batch-upload"),
    path("usage/batches/", views.batch_list, name="batch-list"),
    path("usage/batches/<int:batch_id>/", views.batch_detail, name="batch-detail"),
    path("usage/batches/<int:batch_id>/retry/", views.batch_retry, name="batch-retry"),
    path("usage/quarantine/", quarantine_views.quarantine_list, name="quarantine-list"),
    path("usage/quarantine/replay/", quarantine_views.quarantine_replay, name="quarantine-replay"),
    path(
        "usage/quarantine/replay-all/",
        quarantine_views.quarantine_replay_all,
        name="quarantine-replay-all",
    ),
    path(
        "usage/quarantine/discard/", quarantine_views.quarantine_discard, name="quarantine-discard"
    ),
    path(
        "usage/quarantine/<int:quarantine_id>/",
        quarantine_views.quarantine_detail,
        name="quarantine-detail",
    ),
    path(
        "usage/quarantine/<int:quarantine_id>/fix/",
        quarantine_views.quarantine_fix,
        name="quarantine-fix",
    ),
    path("ingestion-keys/", views.ingestionkey_list, name="ingestionkey-list"),
    path("ingestion-keys/new/", views.ingestionkey_create, name="ingestionkey-create"),
    path(
        "ingestion-keys/<int:ingestion_key_id>/revoke/",
        views.ingestionkey_revoke,
        name="ingestionkey-revoke",
    ),
]
