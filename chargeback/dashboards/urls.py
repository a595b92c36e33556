from django.urls import path

from chargeback.dashboards import export_views, views

app_name = "dashboards"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("units/<int:unit_id>/spend/", views.unit_spend, name="unit-spend"),
    path("events/export/", views.events_export, name="events-export"),
    path("events/export/prepare/", export_views.export_prepare, name="events-export-prepare"),
    path("exports/<int:export_id>/", export_views.export_job, name="export-job"),
    path("exports/<int:export_id>/download/", export_views.export_download, name="export-download"),
]
