from django.urls import path

from chargeback.api import ingest, views

app_name = "api"
urlpatterns = [
    path("v1/usage-events", ingest.UsageEvents.as_view(), name="usage-events"),
    path(
        "v1/ingest-batches/<int:batch_id>", ingest.IngestBatchDetail.as_view(), name="ingest-batch"
    ),
    path("v1/o/<slug:org_slug>/units/", views.UnitList.as_view(), name="unit-list"),
    path(
        "v1/o/<slug:org_slug>/units/<int:unit_id>/", views.UnitDetail.as_view(), name="unit-detail"
    ),
]
